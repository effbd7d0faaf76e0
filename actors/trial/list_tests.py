"""
Expand trial test names into test ids, for the ampstate trial manager.

Usage::

    python list_tests.py NAME [NAME ...]

Loads the names the way ``python -m twisted.trial NAME...`` does (trial's
``TestLoader``, recursing into packages, default name ordering), walks the
suite the way ``trial -j`` does before handing tests to workers, and prints one
JSON object on stdout::

    {"ids": [<test.id() of every test case, in run order>],
     "count": <suite.countTestCases(), what "Running N tests." shows>,
     "sysPath": [<sys.path as a "-m twisted.trial" run would have it>],
     "workertrial": <absolute path of twisted/trial/_dist/workertrial.py>,
     "twisted": <Twisted version>}

A name that cannot be loaded still yields an id (trial's ErrorHolder uses the
name itself), so the worker reports the import error for it, as under trial.
Exit status 0 when the JSON was printed.

As the manager's first local worker::

    python list_tests.py --then-work N [WORKER_ARG ...] NAME [NAME ...]

writes the same JSON to fd 5 and closes it, then becomes a trial worker in the
same process (``workertrial.py`` with the N worker arguments, AMP on fds 3 and
4), with the environment and path the manager gives its other workers. The
modules the listing imported stay imported, so this worker does not import
them again and the run starts one Python process fewer.
"""

import json
import os
import runpy
import sys

LISTING_FD = 5


def main(names, then_work=None):
    # As "python -m twisted.trial": the first sys.path entry is the current
    # directory, not the directory of this script.
    sys.path[0] = os.getcwd()

    from twisted import __version__ as twistedVersion
    from twisted.trial import runner
    from twisted.trial._asyncrunner import _iterateTests
    import importlib.util

    loader = runner.TestLoader()
    # trial uses DestructiveTestSuite unless --until-failure; same tests either way.
    loader.suiteFactory = runner.DestructiveTestSuite
    suite = loader.loadByNames(names, recurse=True)
    count = suite.countTestCases()
    ids = [test.id() for test in _iterateTests(suite)]
    spec = importlib.util.find_spec("twisted.trial._dist.workertrial")
    result = {
        "ids": ids,
        "count": count,
        "sysPath": list(sys.path),
        "workertrial": os.path.abspath(spec.origin),
        "twisted": str(twistedVersion),
    }
    if then_work is None:
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
        return 0
    with os.fdopen(LISTING_FD, "w") as listing:
        listing.write(json.dumps(result) + "\n")
    del suite, loader
    work(result["workertrial"], then_work)
    return 0


def work(workertrial, worker_arguments):
    # What the manager gives its other workers: PYTHONPATH is its interpreter's
    # sys.path, and "python workertrial.py" puts the script's directory first.
    os.environ["PYTHONPATH"] = os.pathsep.join(sys.path)
    sys.path.insert(0, os.path.dirname(workertrial))
    sys.argv = [workertrial] + list(worker_arguments)
    runpy.run_path(workertrial, run_name="__main__")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--then-work"]:
        count = int(arguments[1])
        sys.exit(main(arguments[2 + count:], then_work=arguments[2:2 + count]))
    sys.exit(main(arguments))
