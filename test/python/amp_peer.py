#!/usr/bin/python3
"""A real Twisted AMP peer for interop tests (server, client, benchmarks).

Always run with /usr/bin/python3 (Debian's interpreter, which has Twisted 22.4;
Twisted 24.11 with test/peers/fetch-twisted-24.sh's directory on PYTHONPATH).
Only 127.0.0.1 is used.  Logs go to stderr; stdout carries exactly one JSON
line per mode (the port line for `server`, the result line otherwise).

  amp_peer.py server [--port 0] [--cert F --key F] [--ca F] [--ignore-stdin]
      Listen on 127.0.0.1:PORT, print {"port": N, "twisted": VERSION} once listening, serve every
      connection with the command set in amp_commands.py until SIGTERM/SIGINT
      or until stdin reaches EOF (unless --ignore-stdin).

  amp_peer.py client --port N --scenario NAME [--cert F --key F] [--ca F] [--timeout S]
      Connect to 127.0.0.1:N, run one scenario, print one JSON line
      {"scenario": NAME, "twisted": VERSION, "ok": bool, ...observations}.  Exit 0 whenever the
      scenario ran, even if the peer misbehaved ("ok" is false then; a stuck
      scenario reports "timeout": true plus whatever was observed so far).
      Exit 1 only when the harness itself broke (connection refused, a Python
      bug): then the line is {"scenario": NAME, "harness_error": "..."}.
      Bad usage exits 2 (argparse) with no JSON.
      Scenarios: types errors fatal fire pipelined outoforder starttls switch toolong.

  amp_peer.py twisted-bench [--calls N] [--pipelined N] [--echo-mb N] [--window W] [--echo-window W]
      Twisted server + Twisted client in this process over loopback.
  amp_peer.py client-bench --port N [same options]
      The same measurement against an external server.
      Both print {"sequential_calls_per_s":..,"pipelined_calls_per_s":..,"echo_MBps":..,
                  "errors":N,"params":{...}}.

README.md in this directory has the exact per-scenario output fields.
"""

import argparse
import json
import math
import os
import sys
import threading
import time
import traceback

import twisted

sys.dont_write_bytecode = True  # keep __pycache__ out of test/python

from twisted.internet import defer, protocol, task
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.ssl import Certificate, PrivateCertificate
from twisted.logger import globalLogBeginner, textFileLogObserver
from twisted.protocols import amp

from amp_commands import (
    TOOLONG_COUNT,
    TYPES_CODECS,
    Delay,
    Echo,
    FatalBoom,
    Hello,
    Ping,
    PingCount,
    StartTLS,
    Switch,
    Types,
    WhoAmI,
)
from codec_oracle import format_exc

HOST = "127.0.0.1"


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def start_logging():
    # Never let Twisted redirect stdout: stdout is the JSON channel.
    globalLogBeginner.beginLoggingTo(
        [textFileLogObserver(sys.stderr)], redirectStandardIO=False
    )


class TLSConfig:
    """Certificates given on the command line (all optional)."""

    def __init__(self, cert=None, key=None, ca=None):
        self.cert = None
        self.ca = None
        if cert or key:
            if not (cert and key):
                raise SystemExit("--cert and --key go together")
            with open(cert) as c, open(key) as k:
                self.cert = PrivateCertificate.loadPEM(c.read() + k.read())
        if ca:
            with open(ca) as f:
                self.ca = Certificate.loadPEM(f.read())

    @classmethod
    def from_args(cls, args):
        return cls(args.cert, args.key, args.ca)


# --- protocols ---------------------------------------------------------------


class RawEcho(protocol.Protocol):
    """What the responder runs after Switch: a plain byte echo."""

    def dataReceived(self, data):
        self.transport.write(data)


class Collector(protocol.Protocol):
    """What the caller runs after Switch: collects everything received."""

    def connectionMade(self):
        self.factory.proto = self

    def dataReceived(self, data):
        f = self.factory
        f.data += data
        if len(f.data) >= f.want and not f.done.called:
            f.done.callback(bytes(f.data))


class CollectorFactory(protocol.ClientFactory):
    # ProtocolSwitchCommand calls buildProtocol on success, and
    # clientConnectionFailed / clientConnectionLost (inherited no-ops) otherwise.
    protocol = Collector

    def __init__(self, want):
        self.want = want
        self.data = bytearray()
        self.done = defer.Deferred()
        self.proto = None


class PeerAMP(amp.AMP):
    """Responders for the whole command set; used by both server and client."""

    def __init__(self, tls=None):
        super().__init__()
        self.tls = tls or TLSConfig()
        self.pings = 0
        self.pingTotal = 0
        self.lost = defer.Deferred()  # fires (with None) on connectionLost
        self.lostReason = None  # the Failure given to connectionLost

    def connectionLost(self, reason):
        super().connectionLost(reason)
        self.lostReason = reason
        if not self.lost.called:
            # Not callback(reason): a Failure passed to callback() errbacks.
            self.lost.callback(None)

    @Hello.responder
    def hello(self, count, name):
        if count < 0:
            raise ValueError("negative count")  # declared -> BAD_VALUE
        if count == 666:
            raise RuntimeError("boom")  # undeclared -> UNKNOWN + close
        if count == 777:
            raise FatalBoom("fatal boom")  # fatal -> FATAL_BOOM + close
        if count == TOOLONG_COUNT:
            # Key-length prefix 256: the caller's parser gives up and closes.
            self.transport.write(b"\x01\x00")
            return defer.Deferred()  # never answered
        return {"greeting": "hi " + name.decode() + " x" + str(count) + " é"}

    @Ping.responder
    def ping(self, n):
        self.pings += 1
        self.pingTotal += n
        return {}

    @PingCount.responder
    def pingCount(self):
        return {"count": self.pings, "total": self.pingTotal}

    @Types.responder
    def types(self, **kw):
        return kw  # echo: None (absent) stays absent

    @Echo.responder
    def echo(self, data):
        return {"data": data}

    @Delay.responder
    def delay(self, ms, id):
        from twisted.internet import reactor

        d = defer.Deferred()
        reactor.callLater(max(ms, 0) / 1000.0, d.callback, {"id": id})
        return d

    @StartTLS.responder
    def startTLS(self):
        # With no --cert Twisted falls back to a slow temporary self-signed cert.
        r = {}
        if self.tls.cert is not None:
            r["tls_localCertificate"] = self.tls.cert
        if self.tls.ca is not None:
            r["tls_verifyAuthorities"] = [self.tls.ca]
        return r

    @Switch.responder
    def switch(self):
        return RawEcho()

    @WhoAmI.responder
    def whoAmI(self):
        return {"cn": peer_cn(self)}


def peer_cn(proto):
    """CN of the TLS peer certificate, "" when there is none (or no TLS)."""
    try:
        return peer_cn_of(proto.peerCertificate)
    except Exception:
        return ""


def peer_cn_of(cert):
    cn = cert.getSubject().commonName
    return cn.decode("utf-8", "replace") if cn else ""


class PeerFailure(Exception):
    """A remote call failed: the peer's doing, as opposed to a harness bug."""

    def __init__(self, exc):
        super().__init__(exc)
        self.exc = exc


def _mark_peer_failures(d):
    def eb(f):
        if f.check(defer.CancelledError):
            return f  # our own scenario timeout
        raise PeerFailure(f.value)

    return d.addErrback(eb) if d is not None else d


class CallerAMP(PeerAMP):
    """Client-side protocol: remote-call failures are tagged as PeerFailure."""

    def callRemote(self, *a, **kw):
        return _mark_peer_failures(super().callRemote(*a, **kw))

    def callRemoteString(self, *a, **kw):
        return _mark_peer_failures(super().callRemoteString(*a, **kw))


class PeerFactory(protocol.Factory):
    def __init__(self, tls):
        self.tls = tls

    def buildProtocol(self, addr):
        p = PeerAMP(self.tls)
        p.factory = self
        return p


# --- server mode -------------------------------------------------------------


def run_server(args):
    from twisted.internet import reactor

    start_logging()
    port = reactor.listenTCP(args.port, PeerFactory(TLSConfig.from_args(args)), interface=HOST)
    emit({"port": port.getHost().port, "twisted": twisted.__version__})
    if not args.ignore_stdin:
        # The spawning test keeps our stdin open; EOF means "parent is gone".
        def watch():
            # os.read, not sys.stdin: a daemon thread blocked inside the
            # buffered reader aborts interpreter shutdown on SIGTERM.
            while os.read(0, 65536):
                pass
            reactor.callFromThread(reactor.stop)

        threading.Thread(target=watch, daemon=True).start()
    reactor.run()
    return 0


# --- client helpers ------------------------------------------------------------


def describe_error(e):
    """JSON description of an exception seen by the caller."""
    if isinstance(e, defer.FirstError):
        e = e.subFailure.value
    if isinstance(e, PeerFailure):
        e = e.exc
    t = type(e)
    out = {"error_class": t.__name__, "error_type": t.__module__ + "." + t.__qualname__, "message": str(e)}
    if isinstance(e, amp.TooLong):
        out["message"] = format_exc(e)
        out.update(isKey=e.isKey, isLocal=e.isLocal)
    if isinstance(e, amp.RemoteAmpError):
        out["errorCode"] = e.errorCode.decode("utf-8", "replace")
        out["description"] = e.description
    if isinstance(e, amp.UnhandledCommand):
        # Built as UnhandledCommand(errorCode, description) by _errorReceived.
        out["args"] = [a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in e.args]
    return out


async def expect_error(d):
    """Await a call that should fail; describe the failure (or the success)."""
    try:
        value = await d
    except defer.CancelledError:
        raise  # the scenario timeout, not an observation
    except Exception as e:
        return describe_error(e)
    return {"error_class": None, "unexpected_success": repr(value)}


async def with_timeout(d, seconds):
    from twisted.internet import reactor

    d = defer.ensureDeferred(d) if not isinstance(d, defer.Deferred) else d
    d.addTimeout(seconds, reactor)
    return await d


async def wait_closed(proto, seconds=5.0):
    """Wait for the connection to close; report the transport-level reason."""
    t0 = time.monotonic()
    try:
        await with_timeout(proto.lost, seconds)
        reason = proto.lostReason
    except defer.TimeoutError:
        proto.lost = defer.Deferred()  # addTimeout cancelled the old one
        return {"closed": False}
    return {
        "closed": True,
        "reason_class": type(reason.value).__name__,
        "reason": str(reason.value),
        "after_s": round(time.monotonic() - t0, 3),
    }


async def close(proto):
    if not proto.lost.called and proto.transport is not None:
        proto.transport.loseConnection()
        try:
            await with_timeout(proto.lost, 5)
        except defer.TimeoutError:
            pass


# --- scenarios -------------------------------------------------------------
# Each takes (proto, args, r): fills the result dict r as it goes (so a timeout
# still reports what was seen) and returns ok.

# Cases as oracle reps, keyed by wire name (see README for the rep table).
BIG = str(2 ** 70)
TYPES_CASES = [
    ("full", {
        "fl": "8000000000000000",                      # -0.0
        "d": [0, "10", -1],                            # 1.0
        "t": [2024, 2, 29, 23, 59, 59, 999999, 330],   # +05:30
        "b": True,
        "u": "h\u00e9llo \u2603 \U0001F600 \U0010FFFF",
        "li": ["0", "-1", BIG, "-" + BIG],
        "lu": ["a", "", "\u00e9", "\U0001F600"],
        "al": [{"a": "7", "b": "hello"}, {"a": "9"}],  # 2nd: optional b absent
        "from": "5",
        "foo-bar": "6",
        "s": "00ff0d0a" + b"bytes".hex(),
        "i": BIG,
        "p": "/tmp/ampstate test/p\u00e4th",
        "lli": [["1", "2"], [], ["3", BIG]],
    }),
    ("nan-utc", {
        "fl": "7ff8000000000000",                      # nan
        "d": [0, "1", 2],                              # 1E+2
        "t": [2012, 1, 23, 12, 34, 56, 54321, 0],      # UTC -> "-00:00"
        "b": False, "u": "", "li": [], "lu": [], "al": [], "s": "",
        "from": "0", "foo-bar": "-1", "i": "-" + BIG, "p": "/", "lli": [],
    }),
    ("inf", {
        "fl": "7ff0000000000000",                      # inf
        "d": [1, "", "N"],                             # -sNaN
        "t": [1, 1, 1, 0, 0, 0, 0, -480],
        "al": [{"a": "0", "b": ""}], "lli": [[]], "u": "\U0001F600",
    }),
    ("neginf", {
        "fl": "fff0000000000000",                      # -inf
        "d": [0, "123", "n"],                          # NaN123
        "t": [9999, 12, 31, 23, 59, 59, 999999, -1439],
    }),
    ("misc", {
        "fl": "4341c37937e08000",                      # 1e16 -> "1e+16"
        "d": [0, "1234500", -4],                       # 123.4500
        "t": [2000, 6, 15, 8, 0, 0, 1, 60],
        "li": ["-42"],
    }),
    ("tiny", {
        "fl": "0000000000000001",                      # 5e-324
        "d": [1, "0", "F"],                            # -Infinity
    }),
    ("empty", {}),
]


def _reps(values_by_py):
    out = {}
    for wire, (py, codec) in TYPES_CODECS.items():
        v = values_by_py.get(py)
        try:
            out[wire] = None if v is None else codec.to_rep(v)
        except Exception as e:  # e.g. a DateTime offset Python cannot use
            out[wire] = {"unrepresentable": format_exc(e)}
    return out


async def sc_types(proto, args, r):
    r["cases"] = []
    ok = True
    for name, reps in TYPES_CASES:
        kw = {TYPES_CODECS[w][0]: TYPES_CODECS[w][1].to_py(v) for w, v in reps.items()}
        case = {"name": name, "sent": {w: v for w, v in _reps(kw).items() if v is not None}}
        r["cases"].append(case)
        try:
            resp = await proto.callRemote(Types, **kw)
        except defer.CancelledError:
            raise
        except Exception as e:
            case["error"] = describe_error(e)
            ok = False
            continue
        recv = _reps(resp)
        sent = _reps(kw)
        case["received"] = {w: v for w, v in recv.items() if v is not None}
        case["equal"] = {w: sent[w] == recv[w] for w in sent}
        case["all_equal"] = all(case["equal"].values())
        ok = ok and case["all_equal"]
    return ok


async def sc_errors(proto, args, r):
    r["hello_negative"] = await expect_error(proto.callRemote(Hello, count=-1, name=b"neg"))
    r["unhandled"] = await expect_error(proto.callRemoteString(b"NoSuchCommand"))
    # Declared errors and UNHANDLED must leave the connection usable.
    r["alive_greeting"] = (await proto.callRemote(Hello, count=1, name=b"alive"))["greeting"]
    r["hello_unknown"] = await expect_error(proto.callRemote(Hello, count=666, name=b"boom"))
    r["close"] = await wait_closed(proto)
    r["call_after_close"] = await expect_error(proto.callRemote(Hello, count=2, name=b"late"))
    return (
        r["hello_negative"]["error_class"] == "ValueError"
        and r["hello_negative"]["message"] == "negative count"
        and r["unhandled"]["error_class"] == "UnhandledCommand"
        and r["unhandled"].get("args", [None, None])[1] == "Unhandled Command: b'NoSuchCommand'"
        and r["alive_greeting"] == "hi alive x1 \u00e9"
        and r["hello_unknown"]["error_class"] == "UnknownRemoteError"
        and r["hello_unknown"].get("description") == "Unknown Error"
        and r["close"]["closed"]
    )


async def sc_fatal(proto, args, r):
    r["hello_fatal"] = await expect_error(proto.callRemote(Hello, count=777, name=b"fatal"))
    r["close"] = await wait_closed(proto)
    r["call_after_close"] = await expect_error(proto.callRemote(Hello, count=2, name=b"late"))
    return (
        r["hello_fatal"]["error_class"] == "FatalBoom"
        and r["hello_fatal"]["message"] == "fatal boom"
        and r["close"]["closed"]
    )


async def sc_fire(proto, args, r):
    returned = {repr(proto.callRemote(Ping, n=i)) for i in range(100)}
    r["callRemote_returned"] = sorted(returned)  # ["None"]: no Deferred for fire-and-forget
    resp = await proto.callRemote(PingCount)
    r["count"], r["total"] = resp["count"], resp["total"]
    r["expected_count"], r["expected_total"] = 100, sum(range(100))
    return r["count"] == 100 and r["total"] == sum(range(100))


async def sc_pipelined(proto, args, r):
    n = args.calls or 10000
    t0 = time.perf_counter()
    # count = 1000+i stays clear of the magic counts (666, 777, 255255).
    ds = [proto.callRemote(Hello, count=1000 + i, name=b"pipe") for i in range(n)]
    results = await defer.gatherResults(ds, consumeErrors=True)
    r["elapsed_s"] = round(time.perf_counter() - t0, 4)
    r["calls"] = n
    r["correct"] = sum(
        1 for i, res in enumerate(results) if res["greeting"] == "hi pipe x%d \u00e9" % (1000 + i)
    )
    r["calls_per_s"] = round(n / r["elapsed_s"], 1) if r["elapsed_s"] else None
    return r["correct"] == n


async def sc_outoforder(proto, args, r):
    r["order"] = []
    calls = [(300, 1), (10, 2), (150, 3)]
    t0 = time.perf_counter()
    arrivals = {}

    def arrived(resp, sent_id):
        r["order"].append(resp["id"])
        arrivals[sent_id] = round(time.perf_counter() - t0, 3)
        return resp

    ds = [proto.callRemote(Delay, ms=ms, id=i).addCallback(arrived, i) for ms, i in calls]
    await defer.gatherResults(ds, consumeErrors=True)
    r["arrival_s"] = {str(k): v for k, v in sorted(arrivals.items())}
    return r["order"] == [2, 3, 1]


async def sc_starttls(proto, args, r):
    tls = proto.tls
    r["hello_plain"] = (await proto.callRemote(Hello, count=1, name=b"plain"))["greeting"]
    kw = {}
    if tls.cert is not None:
        kw["tls_localCertificate"] = tls.cert
    if tls.ca is not None:
        kw["tls_verifyAuthorities"] = [tls.ca]
    r["client_cert"] = tls.cert is not None
    r["client_verifies"] = tls.ca is not None
    try:
        resp = await proto.callRemote(StartTLS, **kw)
        r["starttls_response"] = sorted(resp.keys())  # [] over the wire
        who = await proto.callRemote(WhoAmI)
        r["server_sees_cn"] = who["cn"]
        r["hello_tls"] = (await proto.callRemote(Hello, count=2, name=b"tls"))["greeting"]
    except defer.CancelledError:
        raise
    except Exception as e:
        r["error"] = describe_error(e)
        return False
    r["tls_transport"] = ISSLTransport.providedBy(proto.transport)
    r["client_sees_cn"] = peer_cn(proto)
    own_cn = peer_cn_of(tls.cert) if tls.cert is not None else ""
    return (
        r["tls_transport"]
        and r["hello_tls"] == "hi tls x2 \u00e9"
        and r["client_sees_cn"] != ""
        and r["server_sees_cn"] == own_cn
    )


SWITCH_MSG = b"hello after switch"


async def sc_switch(proto, args, r):
    cf = CollectorFactory(len(SWITCH_MSG))
    resp = await proto.callRemote(Switch, cf)
    r["switch_response"] = sorted(resp.keys())
    r["switched"] = cf.proto is not None
    try:
        proto.callRemote(Hello, count=1, name=b"x")
        r["amp_after_switch"] = "no error"
    except Exception as e:  # Twisted raises synchronously once switched
        r["amp_after_switch"] = type(e).__name__
    cf.proto.transport.write(SWITCH_MSG)
    data = await with_timeout(cf.done, 5)
    r["echoed"] = data.decode("utf-8", "replace")
    r["echoed_hex"] = data.hex()
    return data == SWITCH_MSG and r["amp_after_switch"] == "ProtocolSwitched"


async def sc_toolong(proto, args, r):
    r["hello_first"] = (await proto.callRemote(Hello, count=1, name=b"x"))["greeting"]
    r["toolong"] = await expect_error(proto.callRemote(Hello, count=TOOLONG_COUNT, name=b"x"))
    r["close"] = await wait_closed(proto)
    return (
        r["toolong"]["error_class"] == "TooLong"
        and r["toolong"].get("isKey") is True
        and r["toolong"].get("isLocal") is False
    )


SCENARIOS = {
    "types": sc_types,
    "errors": sc_errors,
    "fatal": sc_fatal,
    "fire": sc_fire,
    "pipelined": sc_pipelined,
    "outoforder": sc_outoforder,
    "starttls": sc_starttls,
    "switch": sc_switch,
    "toolong": sc_toolong,
}


async def connect(reactor, port, tls):
    return await connectProtocol(TCP4ClientEndpoint(reactor, HOST, port, timeout=10), CallerAMP(tls))


async def client_main(reactor, args):
    r = {"scenario": args.scenario, "twisted": twisted.__version__}
    try:
        proto = await connect(reactor, args.port, TLSConfig.from_args(args))
    except Exception as e:
        r["harness_error"] = "connect failed: " + format_exc(e)
        emit(r)
        raise SystemExit(1)
    d = defer.ensureDeferred(SCENARIOS[args.scenario](proto, args, r))
    d.addTimeout(args.timeout, reactor)
    try:
        r["ok"] = bool(await d)
    except defer.TimeoutError:
        r["ok"] = False
        r["timeout"] = True
    except Exception as e:
        # A call failed where the scenario did not expect it: the peer's fault,
        # so report it; anything else is our own bug.
        if isinstance(e, PeerFailure) or (
            isinstance(e, defer.FirstError) and e.subFailure.check(PeerFailure)
        ):
            r["ok"] = False
            r["unexpected_error"] = describe_error(e)
        else:
            r["harness_error"] = traceback.format_exc()
            emit(r)
            raise SystemExit(1)
    await close(proto)
    emit(r)


def run_client(args):
    start_logging()
    task.react(lambda reactor: defer.ensureDeferred(client_main(reactor, args)))


# --- benchmarks ----------------------------------------------------------------

ECHO_SIZE = 60 * 1024  # 61440 bytes per String value


def safe_count(i):
    """Hello counts 1000..100999: never a magic count (666, 777, 255255)."""
    return 1000 + i % 100000


async def bench(proto, args, own_server):
    res = {"errors": 0}

    # CPU (user + system) of this process per call, in microseconds: for twisted-bench it holds
    # both ends, as bench/amp.ts counts both processes of the other pairs.
    cpu = {}

    def cpu_per_call(phase, since, calls):
        cpu[phase] = round((time.process_time() - since) * 1e6 / calls, 2) if calls else None

    # 1. sequential: one Hello at a time.
    t0 = time.perf_counter()
    c0 = time.process_time()
    for i in range(args.calls):
        await proto.callRemote(Hello, count=safe_count(i), name=b"bench")
    res["sequential_calls_per_s"] = round(args.calls / (time.perf_counter() - t0), 1)
    cpu_per_call("sequential", c0, args.calls)

    # 2. pipelined: keep `window` Hello calls in flight until `pipelined` done.
    async def windowed(total, window, make, check):
        done = defer.Deferred()
        st = {"sent": 0, "finished": 0}

        def launch():
            i = st["sent"]
            st["sent"] += 1
            make(i).addCallbacks(finished, failed, callbackArgs=(i,))

        def finished(resp, i):
            if not check(resp, i):
                res["errors"] += 1
            step()

        def failed(f):
            res["errors"] += 1
            step()

        def step():
            st["finished"] += 1
            if st["sent"] < total:
                launch()
            elif st["finished"] == total and not done.called:
                done.callback(None)

        t = time.perf_counter()
        for _ in range(min(window, total)):
            launch()
        if total:
            await done
        return time.perf_counter() - t

    n = args.pipelined
    c0 = time.process_time()
    el = await windowed(
        n, args.window,
        lambda i: proto.callRemote(Hello, count=safe_count(i), name=b"bench"),
        lambda resp, i: resp["greeting"] == "hi bench x%d \u00e9" % safe_count(i),
    )
    res["pipelined_calls_per_s"] = round(n / el, 1) if n else None
    cpu_per_call("pipelined", c0, n)

    # 3. echo throughput with 60 KiB values; MB = 10^6 payload bytes sent one way.
    payload = bytes(range(256)) * (ECHO_SIZE // 256)
    count = max(1, math.ceil(args.echo_mb * 1e6 / ECHO_SIZE))
    c0 = time.process_time()
    el = await windowed(
        count, args.echo_window,
        lambda i: proto.callRemote(Echo, data=payload),
        lambda resp, i: resp["data"] == payload,
    )
    res["echo_MBps"] = round(count * ECHO_SIZE / 1e6 / el, 2)
    cpu_per_call("echo", c0, count)
    if own_server:
        res["cpu_us_per_call"] = cpu
    res["params"] = {
        "calls": args.calls, "pipelined": n, "window": args.window,
        "echo_messages": count, "echo_value_bytes": ECHO_SIZE, "echo_window": args.echo_window,
    }
    return res


async def bench_main(reactor, args, own_server):
    if own_server:
        listening = reactor.listenTCP(0, PeerFactory(TLSConfig()), interface=HOST)
        port = listening.getHost().port
    else:
        port = args.port
    try:
        proto = await connect(reactor, port, TLSConfig())
    except Exception as e:
        emit({"harness_error": "connect failed: " + format_exc(e)})
        raise SystemExit(1)
    res = await bench(proto, args, own_server)
    await close(proto)
    if own_server:
        await listening.stopListening()
    res["server"] = "twisted (same process)" if own_server else "external 127.0.0.1:%d" % port
    emit(res)


def run_bench(args, own_server):
    start_logging()
    task.react(lambda reactor: defer.ensureDeferred(bench_main(reactor, args, own_server)))


# --- command line ---------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description="Twisted AMP interop peer")
    sub = ap.add_subparsers(dest="mode", required=True)

    def tls_opts(p):
        p.add_argument("--cert", help="PEM certificate (our side)")
        p.add_argument("--key", help="PEM private key for --cert")
        p.add_argument("--ca", help="PEM CA used to verify the peer")

    def bench_opts(p):
        p.add_argument("--calls", type=int, default=2000, help="sequential Hello calls")
        p.add_argument("--pipelined", type=int, default=20000, help="total pipelined Hello calls")
        p.add_argument("--window", type=int, default=1000, help="pipelined calls in flight")
        p.add_argument("--echo-mb", type=float, default=20, help="MB (10^6 bytes) to echo")
        p.add_argument("--echo-window", type=int, default=8, help="Echo calls in flight")

    s = sub.add_parser("server")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--ignore-stdin", action="store_true", help="do not exit on stdin EOF")
    tls_opts(s)

    c = sub.add_parser("client")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    c.add_argument("--timeout", type=float, default=30.0, help="whole-scenario timeout (s)")
    c.add_argument("--calls", type=int, default=10000, help="calls for the pipelined scenario")
    tls_opts(c)

    tb = sub.add_parser("twisted-bench")
    bench_opts(tb)
    cb = sub.add_parser("client-bench")
    cb.add_argument("--port", type=int, required=True)
    bench_opts(cb)

    args = ap.parse_args(argv)
    if args.mode == "server":
        return run_server(args)
    if args.mode == "client":
        return run_client(args)
    return run_bench(args, own_server=(args.mode == "twisted-bench"))


if __name__ == "__main__":
    sys.exit(main())
