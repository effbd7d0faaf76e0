#!/usr/bin/python3
"""Self-test of the Python harness (Python <-> Python only, loopback).

    /usr/bin/python3 test/python/selftest.py

1. Drives codec_oracle.py with the vectors of docs/amp-protocol.md §8 and checks the bytes.
2. Makes certificates, starts `amp_peer.py server`, runs every client scenario
   against it and requires "ok": true; runs a tiny twisted-bench.
Prints PASS/FAIL lines; exit status 0 only if everything passed.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
failures = []


def check(name, cond, detail=""):
    print(("PASS " if cond else "FAIL ") + name + ("" if cond else "  " + str(detail)))
    if not cond:
        failures.append(name)


class Oracle:
    def __init__(self):
        self.p = subprocess.Popen(
            [PY, os.path.join(HERE, "codec_oracle.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def __call__(self, **req):
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.write('{"op":"quit"}\n')
        self.p.stdin.flush()
        return self.p.wait()


# Section 7 full-box vectors.
BOXES = {
    "A1": "00045f61736b00013100085f636f6d6d616e64000548656c6c6f0005636f756e740002313300046e616d650003626f620000",
    "A2": "00075f616e7377657200013100086772656574696e67000d686920626f622078313320c3a90000",
    "A3": "00065f6572726f72000132000b5f6572726f725f636f646500094241445f56414c554500125f6572726f725f6465736372697074696f6e000e6e6567617469766520636f756e740000",
    "A4": "00065f6572726f72000133000b5f6572726f725f636f64650007554e4b4e4f574e00125f6572726f725f6465736372697074696f6e000d556e6b6e6f776e204572726f720000",
    "A5": "00065f6572726f72000131000b5f6572726f725f636f64650009554e48414e444c454400125f6572726f725f6465736372697074696f6e0023556e68616e646c656420436f6d6d616e643a2062274e6f53756368436f6d6d616e64270000",
    "A6": "00085f636f6d6d616e64000450696e6700016e0001310000",
    "A7": "00045f61736b00013200085f636f6d6d616e64000548656c6c6f0005636f756e7400013100046e616d650001610000",
    "A8": "00045f61736b00013100085f636f6d6d616e64000554797065730001620004547275650000",
    "A9": "00045f61736b00013100085f636f6d6d616e64000554797065730002666c00036e616e0000",
    "A10": "00045f61736b00013100085f636f6d6d616e64000554797065730001740020323031322d30312d32335431323a33343a35362e3035343332312d30303a30300000",
    "A11": "00045f61736b00013100085f636f6d6d616e640005547970657300026c69000d000133000137000139000231350000",
    "A12": "00045f61736b00013100085f636f6d6d616e640005547970657300026c75000900016100000002c3a90000",
    "A13": "00045f61736b00013100085f636f6d6d616e64000554797065730002616c001a000161000137000162000568656c6c6f000000016100013900000000",
    "A14": "00045f61736b00013100085f636f6d6d616e64000554797065730002616c00000000",
    "A15": "00045f61736b00013100085f636f6d6d616e64000554797065730007666f6f2d626172000136000466726f6d0001350000",
}

AL = {"AmpList": [["a", "Integer"], ["b", "Unicode", True]]}


def h(s):
    return s.encode("utf-8").hex()


def oracle_tests():
    o = Oracle()
    # Value encodings (section 7, "Value-only encodings").
    floats = {"3fb999999999999a": "0.1", "3ff0000000000000": "1.0", "8000000000000000": "-0.0",
              "430c6bf526340000": "1000000000000000.0", "4341c37937e08000": "1e+16",
              "3ee4f8b588e368f1": "1e-05", "3f1a36e2eb1c432d": "0.0001",
              "7ff0000000000000": "inf", "fff0000000000000": "-inf", "7ff8000000000000": "nan"}
    r = o(op="encode", type="Float", values=list(floats))
    check("Float value vectors", [x.get("hex") for x in r["results"]] == [h(v) for v in floats.values()], r)
    decs = {"1.0": [0, "10", -1], "1E+2": [0, "1", 2], "1E-7": [0, "1", -7], "123.4500": [0, "1234500", -4],
            "-0": [1, "0", 0], "1E+1000": [0, "1", 1000], "-Infinity": [1, "0", "F"],
            "-sNaN": [1, "", "N"], "NaN123": [0, "123", "n"]}
    r = o(op="encode", type="Decimal", values=list(decs.values()))
    check("Decimal value vectors", [x.get("hex") for x in r["results"]] == [h(k) for k in decs], r)
    r = o(op="decode", type="Decimal", values=[h(k) for k in decs])
    check("Decimal decode vectors", [x.get("value") for x in r["results"]] == list(decs.values()), r)
    r = o(op="encode", type="Integer", values=["-42", str(2 ** 70)])
    check("Integer vectors", [x["hex"] for x in r["results"]] == [h("-42"), h("1180591620717411303424")], r)
    r = o(op="encode", type="Boolean", values=[False, True])
    check("Boolean vectors", [x["hex"] for x in r["results"]] == [h("False"), h("True")], r)
    dts = {"0001-01-01T00:00:00.000000-08:00": [1, 1, 1, 0, 0, 0, 0, -480],
           "2024-02-29T23:59:59.999999+05:30": [2024, 2, 29, 23, 59, 59, 999999, 330],
           "2012-01-23T12:34:56.054321-00:00": [2012, 1, 23, 12, 34, 56, 54321, 0]}  # A10
    r = o(op="encode", type="DateTime", values=list(dts.values()))
    check("DateTime vectors (incl. A10)", [x.get("hex") for x in r["results"]] == [h(k) for k in dts], r)
    r = o(op="encode", type="Unicode", values=["h\u00e9llo \u2603 \U0001F600"])
    check("Unicode vector", r["results"][0]["hex"] == "68c3a96c6c6f20e2988320f09f9880", r)
    r = o(op="encode", type={"ListOf": "Integer"}, values=[["3", "7", "9", "15"]])
    check("A11 ListOf(Integer) value", r["results"][0]["hex"] == "00013300013700013900023135", r)
    r = o(op="encode", type={"ListOf": "Unicode"}, values=[["a", "", "\u00e9"]])
    check("A12 ListOf(Unicode) value", r["results"][0]["hex"] == "00016100000002c3a9", r)
    a13 = "000161000137000162000568656c6c6f00000001610001390000"
    r = o(op="encode", type=AL, values=[[{"a": "7", "b": "hello"}, {"a": "9"}], []])
    check("A13/A14 AmpList values", [x["hex"] for x in r["results"]] == [a13, ""], r)
    r = o(op="decode", type=AL, values=[a13])
    check("A13 AmpList decode", r["results"][0].get("value") == [{"a": "7", "b": "hello"}, {"a": "9"}], r)
    # Full boxes: Twisted parses each vector to one box and re-serialises it identically.
    r = o(op="decodeBoxes", values=list(BOXES.values()))
    boxes = [x.get("value") for x in r["results"]]
    check("A1-A15 parse to one box each", all(b is not None and len(b) == 1 for b in boxes), r)
    r2 = o(op="encodeBox", values=[b[0] for b in boxes if b])
    check("A1-A15 re-serialise byte-identically",
          [x.get("hex") for x in r2["results"]] == list(BOXES.values()), r2)
    r = o(op="decodeBoxes", values=["0100"])
    check("A16 0100 -> TooLong", r["results"][0]["error"].startswith("TooLong"), r)
    code = o.close()
    check("oracle quits with 0", code == 0, code)


def peer_tests():
    tmp = tempfile.mkdtemp(prefix="ampstate-py-")
    subprocess.run([PY, os.path.join(HERE, "make_certs.py"), tmp], check=True, stdout=subprocess.DEVNULL)
    c = lambda n: os.path.join(tmp, n)  # noqa: E731
    peer = os.path.join(HERE, "amp_peer.py")
    srv = subprocess.Popen(
        [PY, peer, "server", "--port", "0", "--cert", c("server.pem"), "--key", c("server.key"), "--ca", c("ca.pem")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        port = json.loads(srv.stdout.readline())["port"]
        for sc in ["types", "errors", "fatal", "fire", "pipelined", "outoforder", "switch", "toolong", "starttls"]:
            extra = ["--cert", c("client.pem"), "--key", c("client.key"), "--ca", c("ca.pem")] if sc == "starttls" else []
            p = subprocess.run([PY, peer, "client", "--port", str(port), "--scenario", sc] + extra,
                               capture_output=True, text=True, timeout=120)
            out = json.loads(p.stdout) if p.stdout.strip() else {}
            check("scenario %s" % sc, p.returncode == 0 and out.get("ok") is True, (p.returncode, p.stdout[:2000]))
        p = subprocess.run([PY, peer, "client-bench", "--port", str(port), "--calls", "200",
                            "--pipelined", "2000", "--echo-mb", "1"], capture_output=True, text=True, timeout=120)
        b = json.loads(p.stdout)
        check("client-bench", b["errors"] == 0 and b["echo_MBps"] > 0, b)
    finally:
        srv.stdin.close()  # EOF on stdin stops the server
        code = srv.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    check("server exits 0 on stdin EOF", code == 0, code)
    p = subprocess.run([PY, peer, "twisted-bench", "--calls", "200", "--pipelined", "2000", "--echo-mb", "1"],
                       capture_output=True, text=True, timeout=120)
    b = json.loads(p.stdout)
    check("twisted-bench", b["errors"] == 0 and set(b) >= {"sequential_calls_per_s", "pipelined_calls_per_s", "echo_MBps"}, b)


if __name__ == "__main__":
    oracle_tests()
    peer_tests()
    print("%d failure(s)" % len(failures))
    sys.exit(1 if failures else 0)
