#!/usr/bin/python3
"""
Drive one trial ``-j`` worker process with Twisted's own manager classes.

This is ampstate's reference *manager* for checking workers (ours written in
TypeScript, or Twisted's ``workertrial.py``).  The wire side is entirely
Twisted's: ``twisted.trial._dist.worker.LocalWorker`` (the process protocol
that disttrial uses: Start on connect, out.log / err.log / test.log in the
worker directory) and ``LocalWorkerAMP`` (the manager-side AMP responders and
``run()``).  This script only adds recording around them.  It runs under
Twisted 22.4 (``/usr/bin/python3`` here; the inline dialect) or 24.11 (the
same interpreter with test/peers/fetch-twisted-24.sh's directory on
``PYTHONPATH``; the stream dialect, whose responders receive stream ids, so
texts and frames are then recorded from what they hand the reporter).

Usage::

    /usr/bin/python3 test/trial/drive_worker.py [options] -- COMMAND [ARG...]

Options:

``--workdir DIR``
    Worker directory (made absolute; created if missing).  It is the
    ``directory`` argument of ``Start`` and receives ``out.log`` (worker fd 1),
    ``err.log`` (fd 2) and ``test.log`` (TestWrite texts), exactly like
    ``_trial_temp/<i>`` under disttrial.  Default: a fresh temporary directory.
``--test NAME``
    Test name sent in one ``Run`` (repeatable; sent in order, one at a time,
    the next only after the previous answer, as disttrial does).
``--timeout SECONDS``
    Overall limit (default 60).  When hit, the worker gets SIGKILL, pending
    runs fail, and ``"timedOut": true`` is reported.
``--keep-pythonpath``
    Pass the environment unchanged.  By default, like disttrial, the child's
    ``PYTHONPATH`` is replaced by this interpreter's ``sys.path`` joined with
    ``os.pathsep`` (so set ``PYTHONPATH`` for *this* script to make test
    modules importable by a Python worker).
``--trace FILE``
    Append one JSON line per AMP box, ``{"dir": "W>M" | "M>W", "box": {...}}``
    (values decoded as UTF-8 with backslash escapes).

The child is spawned with ``reactor.spawnProcess`` and the same ``childFDs``
map as disttrial (0 "w", 1 "r", 2 "r", 3 "w" = AMP manager->worker,
4 "r" = AMP worker->manager), inheriting this process's cwd.  ``Start`` is
sent on connection and the first ``Run`` follows without waiting for its
answer (pipelined, as in disttrial).  After the last run the manager closes
the child's fd 3 and waits for the process to exit.

Output: exactly one JSON line on stdout::

    {"command": [...], "workdir": "...",
     "start": {"success": true} | {"error": "..."},
     "results": [
        {"run": NAME,
         "success": true | false | null,      # Run answer (null: no answer)
         "runError": null | {"errorClass": ..., "message": ...},
         "events": [
            {"kind": "success" | "failure" | "error" | "skip"
                     | "expectedFailure" | "unexpectedSuccess",
             "test": <testName sent by the worker>,
             "message": <error/fail text, skip reason; else null>,
             "errorClass": <errorClass/failClass as sent; else null>,
             "frames": [<flat list of strings as sent>] | null,
             "todo": <todo text for expectedFailure/unexpectedSuccess; else null>}
            ...],
         "logs": [<TestWrite texts received while this run was current>],
         "rejected": [{"command": NAME, "error": ...}]}   # see below
        ...],
     "logs": [<every TestWrite text, in order>],
     "rejected": [...],          # worker commands the manager failed/refused
     "timedOut": false,
     "exitCode": N | null, "signal": N | null}

Events come from the calls LocalWorkerAMP makes on the reporter, so a result
the 22.4 manager would drop (e.g. an ``errorClass`` it cannot import, which
makes it answer ``UNKNOWN`` and close the connection; or a command it does
not know, such as the >=22.10 ``StreamOpen``, answered ``UNHANDLED``) shows up
in ``rejected`` instead of ``events``.  Event fields carry the values exactly
as they arrived on the wire.  ``runError`` is set when the ``Run`` call itself
failed (worker died, connection closed, error reply); disttrial would report
that as a failure of the test.  Exit status of this script: 0 when the JSON
line was printed, 2 on usage errors.

Example::

    PYTHONPATH=test/trial/fixtures /usr/bin/python3 test/trial/drive_worker.py \\
        --test ampstate_sample.test_outcomes.OutcomeTests.test_error -- \\
        /usr/bin/python3 /usr/lib/python3/dist-packages/twisted/trial/_dist/workertrial.py
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import twisted
from twisted.internet import defer
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.python.reflect import qual
from twisted.trial._dist import _WORKER_AMP_STDIN, _WORKER_AMP_STDOUT, managercommands
from twisted.trial._dist.worker import LocalWorker, LocalWorkerAMP

_MANAGER_COMMANDS = {
    c.commandName: c
    for c in (
        managercommands.AddSuccess,
        managercommands.AddError,
        managercommands.AddFailure,
        managercommands.AddSkip,
        managercommands.AddExpectedFailure,
        managercommands.AddUnexpectedSuccess,
        managercommands.TestWrite,
    )
}


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def _flatFrames(failure):
    """
    The frames a manager rebuilt from the wire, flat again (name, file, line).
    """
    return [str(item) for frame in failure.frames for item in frame[:3]]


#: 22.8 reworked LocalWorker (a FilePath and an open log file) and made run() a coroutine.
_LOCAL_WORKER_22_8 = (twisted.version.major, twisted.version.minor) >= (22, 8)


def _describe(failure):
    return {"errorClass": qual(failure.type), "message": _text(failure.value)}


class _NamedTest:
    """
    Stand-in for a test case on the manager side: disttrial only ever uses
    C{id()} of the cases it hands to L{LocalWorkerAMP.run}.
    """

    def __init__(self, name):
        self._name = name

    def id(self):
        return self._name

    def __str__(self):
        return self._name

    shortDescription = __str__


class Recorder:
    """
    Collects what the worker reports.  Also the reporter given to
    L{LocalWorkerAMP.run}.
    """

    def __init__(self):
        self.runs = []
        self.logs = []
        self.rejected = []
        self.current = None
        self.wire = {}

    def beginRun(self, name):
        self.current = {
            "run": name,
            "success": None,
            "runError": None,
            "events": [],
            "logs": [],
            "rejected": [],
        }
        self.runs.append(self.current)
        return self.current

    def log(self, text):
        self.logs.append(text)
        if self.current is not None:
            self.current["logs"].append(text)

    def reject(self, command, error):
        item = {"command": command, "error": error}
        self.rejected.append(item)
        if self.current is not None:
            self.current["rejected"].append(item)

    def _event(self, kind, message=None, errorClass=None, frames=None, todo=None):
        w = self.wire
        event = {
            "kind": kind,
            "test": w.get("testName"),
            "message": message,
            "errorClass": errorClass,
            "frames": frames,
            "todo": todo,
        }
        target = self.current
        if target is None:  # result outside any Run: keep it anyway
            target = self.beginRun(None)
        target["events"].append(event)

    # Reporter interface used by LocalWorkerAMP.
    def startTest(self, test):
        pass

    def stopTest(self, test):
        pass

    def addSuccess(self, test):
        self._event("success")

    # The 22.4 dialect has the texts and frames on the wire; from 22.10 they came through streams
    # and only the failure the manager built holds them.
    def _message(self, field, failure):
        return self.wire[field] if field in self.wire else _text(failure.value)

    def _frames(self, failure):
        return self.wire["frames"] if "frames" in self.wire else _flatFrames(failure)

    def addError(self, test, failure):
        w = self.wire
        self._event("error", self._message("error", failure), w.get("errorClass"), self._frames(failure))

    def addFailure(self, test, failure):
        w = self.wire
        self._event("failure", self._message("fail", failure), w.get("failClass"), self._frames(failure))

    def addSkip(self, test, reason):
        self._event("skip", self.wire.get("reason"))

    def addExpectedFailure(self, test, error, todo=None):
        w = self.wire
        self._event("expectedFailure", w["error"] if "error" in w else _text(error), todo=w.get("todo"))

    def addUnexpectedSuccess(self, test, todo=None):
        self._event("unexpectedSuccess", todo=self.wire.get("todo"))


class RecordingWorkerAMP(LocalWorkerAMP):
    """
    L{LocalWorkerAMP} unchanged, plus: remembers the decoded arguments of the
    worker command being dispatched (for the recorder), records TestWrite
    texts and refused/failed commands, and can trace boxes.
    """

    def __init__(self, recorder, trace=None):
        super().__init__()
        self._recorder = recorder
        self._trace = trace

    def _traceBox(self, direction, box):
        if self._trace is not None:
            line = {
                "dir": direction,
                "box": {_text(k): _text(v) for k, v in box.items()},
            }
            self._trace.write(json.dumps(line) + "\n")
            self._trace.flush()

    def sendBox(self, box):
        self._traceBox("M>W", box)
        return super().sendBox(box)

    def ampBoxReceived(self, box):
        self._traceBox("W>M", box)
        self._recorder.wire = {}
        name = box.get(b"_command")
        command = _MANAGER_COMMANDS.get(name) if name is not None else None
        if command is not None:
            try:
                self._recorder.wire = command.parseArguments(box, self)
            except Exception:
                pass  # the real responder will fail the same way; recorded there
            if command is managercommands.TestWrite and "out" in self._recorder.wire:
                self._recorder.log(self._recorder.wire["out"])
        return super().ampBoxReceived(box)

    def locateResponder(self, name):
        responder = super().locateResponder(name)
        commandName = _text(name)
        if responder is None:
            self._recorder.reject(commandName, "UNHANDLED")
            return None
        recorder = self._recorder

        def recorded(box):
            d = defer.maybeDeferred(responder, box)

            def failed(f):
                local = getattr(f.value, "local", None)
                detail = local if local is not None else f
                recorder.reject(
                    commandName, "%s: %s" % (qual(detail.type), _text(detail.value))
                )
                return f

            return d.addErrback(failed)

        return recorded


def _parseArgs(argv):
    parser = argparse.ArgumentParser(
        prog="drive_worker.py",
        description="Drive a trial -j worker with Twisted's LocalWorkerAMP.",
    )
    parser.add_argument("--workdir")
    parser.add_argument("--test", action="append", default=[], dest="tests")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--keep-pythonpath", action="store_true")
    parser.add_argument("--trace")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        parser.error("a worker command is required after --")
    args.command = command
    return args


def main(argv=None):
    args = _parseArgs(sys.argv[1:] if argv is None else argv)
    from twisted.internet import reactor

    workdir = os.path.abspath(
        args.workdir if args.workdir else tempfile.mkdtemp(prefix="drive_worker-")
    )
    executable = shutil.which(args.command[0]) or args.command[0]
    env = os.environ.copy()
    if not args.keep_pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(sys.path)
    trace = open(args.trace, "a", encoding="utf-8") if args.trace else None

    recorder = Recorder()
    amp = RecordingWorkerAMP(recorder, trace)
    testLog = None
    if _LOCAL_WORKER_22_8:
        os.makedirs(workdir, exist_ok=True)
        testLog = open(os.path.join(workdir, "test.log"), "a", encoding="utf-8")
        worker = LocalWorker(amp, FilePath(workdir), testLog)
    else:
        worker = LocalWorker(amp, workdir, "test.log")
    output = {
        "command": list(args.command),
        "workdir": workdir,
        "start": None,
        "results": recorder.runs,
        "logs": recorder.logs,
        "rejected": recorder.rejected,
        "timedOut": False,
        "exitCode": None,
        "signal": None,
    }

    ended = {"reason": None, "waiters": []}

    def onEnd(reason):
        ended["reason"] = reason
        for w in ended["waiters"]:
            w.callback((reason,))  # tuple: a bare Failure would errback
        return None

    worker.endDeferred.addBoth(onEnd)

    def waitEnd():
        if ended["reason"] is not None:
            return defer.succeed((ended["reason"],))
        d = defer.Deferred()
        ended["waiters"].append(d)
        return d

    # LocalWorker.connectionMade sends Start; record its answer by wrapping
    # callRemote for that one call (the worker's own errback ignores errors).
    realCallRemote = amp.callRemote

    def callRemote(command, **kw):
        d = realCallRemote(command, **kw)
        if command.commandName == b"Start":

            def ok(response):
                output["start"] = {"success": response.get("success")}
                return response

            def bad(f):
                output["start"] = {"error": "%s: %s" % (qual(f.type), _text(f.value))}
                return f

            d.addCallbacks(ok, bad)
        return d

    amp.callRemote = callRemote

    childFDs = {0: "w", 1: "r", 2: "r", _WORKER_AMP_STDIN: "w", _WORKER_AMP_STDOUT: "r"}
    process = reactor.spawnProcess(
        worker, executable, args=list(args.command), env=env, childFDs=childFDs
    )

    def onTimeout():
        output["timedOut"] = True
        try:
            process.signalProcess("KILL")
        except Exception:
            pass

    timer = reactor.callLater(args.timeout, onTimeout)

    @defer.inlineCallbacks
    def drive():
        for name in args.tests:
            entry = recorder.beginRun(name)
            try:
                response = yield defer.ensureDeferred(amp.run(_NamedTest(name), recorder))
                entry["success"] = response.get("success")
            except Exception:
                entry["runError"] = _describe(Failure())
        recorder.current = None
        if ended["reason"] is None:
            try:
                process.closeChildFD(_WORKER_AMP_STDIN)
            except Exception:
                pass
        (reason,) = yield waitEnd()
        if isinstance(reason.value, ProcessDone):
            output["exitCode"] = 0
        elif isinstance(reason.value, ProcessTerminated):
            output["exitCode"] = reason.value.exitCode
            output["signal"] = reason.value.signal

    def finish(result):
        if isinstance(result, Failure):
            output["driverError"] = result.getTraceback()
        if timer.active():
            timer.cancel()
        reactor.stop()

    reactor.callWhenRunning(lambda: drive().addBoth(finish))
    reactor.run()
    if trace is not None:
        trace.close()
    if testLog is not None:
        testLog.close()
    sys.stdout.write(json.dumps(output) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
