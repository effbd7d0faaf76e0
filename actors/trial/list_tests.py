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
"""

import json
import os
import sys


def main(names):
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
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
