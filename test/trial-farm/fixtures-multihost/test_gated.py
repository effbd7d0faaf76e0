"""
Tests that hold their trial worker until the harness opens a gate, so that a multi-host test
knows which trial workers are busy, and on which host, before it acts (kills a host, or checks
that every host ran something).

gated-package.ts copies this module into a fresh package next to a gate.json:

  {"marks": DIR, "count": N, "waitFor": K}

Each of the N tests writes DIR/started-<test>-<pid> holding {"pid", "ancestors"} (the process's
ancestry, from /proc: the harness maps it to the worker daemon that ran the test), then waits
until DIR/release exists or, when K > 0, until K tests have started (K concurrent tests need K
trial workers). A gate that never opens fails the test after two minutes instead of hanging.
"""

import json
import os
import time

from twisted.trial import unittest

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "gate.json")) as gate_file:
    GATE = json.load(gate_file)

GATE_TIMEOUT_SECONDS = 120


def _ancestors():
    chain = []
    pid = os.getppid()
    while pid > 1:
        chain.append(pid)
        with open("/proc/%d/stat" % pid) as stat:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ")".
            pid = int(stat.read().rsplit(")", 1)[1].split()[1])
    return chain


def _started():
    return [name for name in os.listdir(GATE["marks"]) if name.startswith("started-")]


def _pass_gate(test):
    name = "%s-%d" % (test, os.getpid())
    pending = os.path.join(GATE["marks"], "pending-" + name)
    with open(pending, "w") as out:
        json.dump({"pid": os.getpid(), "ancestors": _ancestors()}, out)
    # Renamed into place, so the harness never reads half a mark.
    os.rename(pending, os.path.join(GATE["marks"], "started-" + name))
    deadline = time.time() + GATE_TIMEOUT_SECONDS
    while time.time() < deadline:
        if os.path.exists(os.path.join(GATE["marks"], "release")):
            return
        if GATE["waitFor"] > 0 and len(_started()) >= GATE["waitFor"]:
            return
        time.sleep(0.05)
    raise AssertionError("the gate never opened (%d tests started)" % len(_started()))


class GatedTests(unittest.TestCase):
    pass


def _gated(name):
    return lambda self: _pass_gate(name)


for _index in range(GATE["count"]):
    _name = "test_gated_%02d" % _index
    setattr(GatedTests, _name, _gated(_name))
