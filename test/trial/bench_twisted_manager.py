#!/usr/bin/python3
"""
Wall time of Twisted's own trial manager (the Python reference for benches).

Usage::

    test/trial/bench_twisted_manager.py [--python EXE] [--repeat K] [--cwd DIR]
                                        N NAME [NAME...]

Runs ``EXE -m twisted.trial -j N NAME...`` (``N`` = 0 means serial: no ``-j``)
in a fresh temporary directory (so ``_trial_temp`` lands there; removed
afterwards) unless ``--cwd`` is given, with the caller's environment plus
``PYTHONDONTWRITEBYTECODE=1``.  ``EXE`` defaults to ``/usr/bin/python3``
(the interpreter with Twisted 22.4 on this machine).  Set ``PYTHONPATH`` for
test modules outside the interpreter's path, e.g.
``PYTHONPATH=test/trial/fixtures ... 2 ampstate_sample``.

Prints one JSON line::

    {"seconds": S, "summary": "<last non-empty stdout line>",
     "exitCode": RC, "jobs": N, "names": [...], "runs": [S1, ...]}

``seconds`` is the minimum over ``--repeat`` runs (default 1); ``runs``
lists every run's wall time.  ``summary`` is taken from the last run (with
22.4's ``-j`` it can be a test line rather than PASSED/FAILED when the
summary is lost, see GROUND_TRUTH.md).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench_twisted_manager.py")
    parser.add_argument("--python", default="/usr/bin/python3")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cwd")
    parser.add_argument("jobs", type=int)
    parser.add_argument("names", nargs="+")
    args = parser.parse_args(argv)

    cmd = [args.python, "-m", "twisted.trial"]
    if args.jobs > 0:
        cmd += ["-j", str(args.jobs)]
    cmd += args.names
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")

    runs = []
    summary = ""
    rc = None
    for _ in range(max(1, args.repeat)):
        cwd = args.cwd or tempfile.mkdtemp(prefix="bench-trial-")
        try:
            start = time.monotonic()
            proc = subprocess.run(
                cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
            runs.append(round(time.monotonic() - start, 3))
        finally:
            if not args.cwd:
                shutil.rmtree(cwd, ignore_errors=True)
        rc = proc.returncode
        lines = [
            line for line in proc.stdout.decode("utf-8", "replace").splitlines()
            if line.strip()
        ]
        summary = lines[-1] if lines else ""

    print(json.dumps({
        "seconds": min(runs),
        "summary": summary,
        "exitCode": rc,
        "jobs": args.jobs,
        "names": args.names,
        "runs": runs,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
