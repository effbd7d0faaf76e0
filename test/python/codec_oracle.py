#!/usr/bin/python3
"""Twisted's own AMP argument types and box codec, driven as a JSON-lines oracle.

Run with Debian's interpreter (the one that has Twisted 22.4):

    /usr/bin/python3 test/python/codec_oracle.py

Protocol: one JSON object per line on stdin; exactly one JSON line on stdout per
request (flushed).  Blank lines are ignored.  EOF or {"op":"quit"} exits 0
(quit produces no output).  If a request has an "id" member it is copied into
the reply.  A request that cannot be processed at all (bad JSON, unknown op,
bad type spec) gets {"error": "<Class>: msg"} at top level instead of
"results".

Ops (all batched; results[i] belongs to values[i]):
  encode      {"op":"encode","type":T,"values":[V...]}
              -> {"results":[{"hex":H} | ERR ...]}   via T.toStringProto(value, None)
  decode      {"op":"decode","type":T,"values":[H...]}
              -> {"results":[{"value":V} | ERR ...]} via T.fromStringProto(bytes, None)
  encodeBox   {"op":"encodeBox","values":[{hexkey:hexvalue,...}...]}
              -> {"results":[{"hex":H} | ERR ...]}   via amp.AmpBox(...).serialize()
  decodeBoxes {"op":"decodeBoxes","values":[H...]}
              -> {"results":[{"value":[{hexkey:hexvalue}...],"unparsed":N} | ERR ...]}
  info        {"op":"info"} -> {"python":..,"twisted":..,"cwd":..,"int_max_str_digits":..}
  quit        {"op":"quit"}

ERR is {"error":"<ExceptionClass>: <str(exc)>","stage":S}.  S says where it
failed: "rep" = the JSON representation could not be turned into a Python value
(harness input problem, Twisted never ran); "twisted" = Twisted's
toString/fromString/serialize/parser raised; "result" = Twisted returned a value
that has no JSON representation here (e.g. lone surrogates, a DateTime whose
offset Python refuses to use).  TooLong is rendered with its attributes because
its str() is empty: "TooLong: isKey=<bool> isLocal=<bool> keyName=<hex|None> length=<n|None>".

Type specs T: "Integer" "String" "Unicode" "Boolean" "Float" "Decimal"
"DateTime" "Path" | {"ListOf": T} | {"AmpList": [[wireName, T, optional?], ...]}.

Value representations V (see README.md for the full table):
  Integer  decimal string "-42" (JSON integers are also accepted on input)
  String   hex of the bytes
  Unicode  JSON string
  Boolean  true/false
  Float    16 hex chars: IEEE-754 binary64, big-endian
  Decimal  [sign, "digits", exponent] = Decimal.as_tuple(); exponent int or "n"/"N"/"F"
  DateTime [year, month, day, hour, minute, second, microsecond, offsetMinutes]
           (offsetMinutes null on input = naive datetime, which Twisted refuses)
  Path     the FilePath's .path text
  ListOf   array of element reps
  AmpList  array of objects {wireName: V}; absent optional fields omitted

This module is also imported by amp_peer.py for the same representations.
"""

import datetime
import decimal
import json
import os
import re
import struct
import sys

import twisted
from twisted.protocols import amp
from twisted.python._tzhelper import FixedOffsetTimeZone
from twisted.python.filepath import FilePath


class RepError(Exception):
    """The JSON representation is malformed (stage "rep")."""


class ResultError(Exception):
    """Twisted's value cannot be represented in JSON (stage "result")."""


def format_exc(e):
    """'<Class>: message'; TooLong gets its attributes because str() is ''."""
    if isinstance(e, amp.TooLong):
        key = e.keyName.hex() if isinstance(e.keyName, bytes) else None
        length = len(e.value) if e.value is not None else None
        return "TooLong: isKey=%s isLocal=%s keyName=%s length=%s" % (
            e.isKey, e.isLocal, key, length)
    return "%s: %s" % (type(e).__name__, e)


def _hex_bytes(rep):
    if not isinstance(rep, str):
        raise RepError("expected a hex string, got %r" % (rep,))
    try:
        return bytes.fromhex(rep)
    except ValueError as e:
        raise RepError(str(e))


def _check_text(s):
    # Twisted's strict UTF-8 decode cannot yield lone surrogates, but keep the
    # promise that we never emit JSON that JS would read as broken UTF-16.
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ResultError("lone surrogate in decoded text: %s" % e)
    return s


# --- per-type codecs -------------------------------------------------------
# Each codec knows how to build the Twisted argument object and convert
# JSON rep <-> the Python value Twisted's toString expects / fromString returns.

_INT_RE = re.compile(r"-?[0-9]+\Z")


class _Codec:
    def make_arg(self, optional=False):
        raise NotImplementedError


def _parse_int(s):
    """int(s) without Python 3.11's 4300-digit str->int limit.

    The limit belongs to the *rep* here, not to Twisted: building the int in
    chunks lets Twisted's own b"%d" hit (and report) the limit on encode.
    """
    neg = s.startswith("-")
    digits = s[1:] if neg else s
    v = 0
    for i in range(0, len(digits), 4000):
        chunk = digits[i:i + 4000]
        v = v * 10 ** len(chunk) + int(chunk)
    return -v if neg else v


class _IntegerCodec(_Codec):
    def make_arg(self, optional=False):
        return amp.Integer(optional=optional)

    def to_py(self, rep):
        if isinstance(rep, bool):
            raise RepError("Integer rep must be a decimal string")
        if isinstance(rep, int):
            return rep
        if isinstance(rep, str) and _INT_RE.match(rep):
            return _parse_int(rep)
        raise RepError("Integer rep must be a decimal string, got %r" % (rep,))

    def to_rep(self, v):
        return str(v)


class _StringCodec(_Codec):
    def make_arg(self, optional=False):
        return amp.String(optional=optional)

    def to_py(self, rep):
        return _hex_bytes(rep)

    def to_rep(self, v):
        return v.hex()


class _UnicodeCodec(_Codec):
    def make_arg(self, optional=False):
        return amp.Unicode(optional=optional)

    def to_py(self, rep):
        if not isinstance(rep, str):
            raise RepError("Unicode rep must be a JSON string")
        return rep  # lone surrogates pass through: Twisted's encode then fails

    def to_rep(self, v):
        return _check_text(v)


class _BooleanCodec(_Codec):
    def make_arg(self, optional=False):
        return amp.Boolean(optional=optional)

    def to_py(self, rep):
        if not isinstance(rep, bool):
            raise RepError("Boolean rep must be true/false")
        return rep

    def to_rep(self, v):
        return v


class _FloatCodec(_Codec):
    _unpack = struct.Struct(">d")

    def make_arg(self, optional=False):
        return amp.Float(optional=optional)

    def to_py(self, rep):
        b = _hex_bytes(rep)
        if len(b) != 8:
            raise RepError("Float rep must be 16 hex chars")
        return self._unpack.unpack(b)[0]

    def to_rep(self, v):
        return self._unpack.pack(v).hex()


class _DecimalCodec(_Codec):
    def make_arg(self, optional=False):
        return amp.Decimal(optional=optional)

    def to_py(self, rep):
        if not (isinstance(rep, list) and len(rep) == 3):
            raise RepError("Decimal rep must be [sign, digits, exponent]")
        sign, digits, exp = rep
        if sign not in (0, 1) or not isinstance(digits, str) or not (
            digits == "" or digits.isdigit()
        ):
            raise RepError("bad Decimal rep %r" % (rep,))
        if not (exp in ("n", "N", "F") or (isinstance(exp, int) and not isinstance(exp, bool))):
            raise RepError("bad Decimal exponent %r" % (exp,))
        try:
            # The tuple constructor is exact: no context rounding.
            return decimal.Decimal((sign, tuple(int(c) for c in digits), exp))
        except (ValueError, decimal.InvalidOperation) as e:
            raise RepError("bad Decimal rep %r: %s" % (rep, e))

    def to_rep(self, v):
        t = v.as_tuple()
        return [t.sign, "".join(map(str, t.digits)), t.exponent]


class _DateTimeCodec(_Codec):
    def make_arg(self, optional=False):
        return amp.DateTime(optional=optional)

    def to_py(self, rep):
        if not (isinstance(rep, list) and len(rep) == 8):
            raise RepError("DateTime rep must have 8 elements")
        *fields, off = rep
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in fields):
            raise RepError("DateTime fields must be integers")
        if off is None:
            tz = None  # naive: Twisted's toString must refuse it
        elif isinstance(off, (int, float)) and not isinstance(off, bool):
            # Twisted's own tzinfo class, as DateTime.fromString would build.
            tz = FixedOffsetTimeZone(datetime.timedelta(minutes=off))
        else:
            raise RepError("DateTime offset must be a number or null")
        try:
            return datetime.datetime(*fields, tzinfo=tz)
        except (ValueError, OverflowError, TypeError) as e:
            raise RepError(str(e))

    def to_rep(self, v):
        try:
            off = v.utcoffset()  # raises if |offset| >= 24h (Twisted never checks)
        except ValueError as e:
            raise ResultError(str(e))
        minutes = (off.days * 86400 + off.seconds) // 60
        return [v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, minutes]


class _PathCodec(_Codec):
    def make_arg(self, optional=False):
        return amp.Path(optional=optional)

    def to_py(self, rep):
        if not isinstance(rep, str):
            raise RepError("Path rep must be a JSON string")
        try:
            return FilePath(rep)  # note: FilePath() applies os.path.abspath
        except Exception as e:
            raise RepError(format_exc(e))

    def to_rep(self, v):
        return _check_text(v.path)


class _ListOfCodec(_Codec):
    def __init__(self, elem):
        self.elem = elem

    def make_arg(self, optional=False):
        return amp.ListOf(self.elem.make_arg(), optional=optional)

    def to_py(self, rep):
        if not isinstance(rep, list):
            raise RepError("ListOf rep must be an array")
        return [self.elem.to_py(x) for x in rep]

    def to_rep(self, v):
        return [self.elem.to_rep(x) for x in v]


class _AmpListCodec(_Codec):
    def __init__(self, fields):
        # fields: [(wireName str, wire bytes, python kw name, codec, optional)]
        self.fields = fields
        self.names = {f[0] for f in fields}

    def make_arg(self, optional=False):
        return amp.AmpList(
            [(wb, c.make_arg(opt)) for (_, wb, _, c, opt) in self.fields], optional=optional
        )

    def to_py(self, rep):
        if not isinstance(rep, list):
            raise RepError("AmpList rep must be an array of objects")
        out = []
        for obj in rep:
            if not isinstance(obj, dict):
                raise RepError("AmpList element must be an object")
            extra = set(obj) - self.names
            if extra:
                raise RepError("AmpList element has undeclared keys %r" % sorted(extra))
            d = {}
            for wire, _, py, codec, _ in self.fields:
                # Absent or null -> key not given (Python None == omitted).
                if obj.get(wire) is not None:
                    d[py] = codec.to_py(obj[wire])
            out.append(d)
        return out

    def to_rep(self, v):
        out = []
        for d in v:
            obj = {}
            for wire, _, py, codec, _ in self.fields:
                x = d.get(py)
                if x is not None:
                    obj[wire] = codec.to_rep(x)
            out.append(obj)
        return out


_SIMPLE = {
    "Integer": _IntegerCodec(),
    "String": _StringCodec(),
    "Unicode": _UnicodeCodec(),
    "Boolean": _BooleanCodec(),
    "Float": _FloatCodec(),
    "Decimal": _DecimalCodec(),
    "DateTime": _DateTimeCodec(),
    "Path": _PathCodec(),
}


def codec_for(spec):
    """Build a codec for a JSON type spec (raises ValueError on bad spec)."""
    if isinstance(spec, str):
        if spec in _SIMPLE:
            return _SIMPLE[spec]
    elif isinstance(spec, dict) and len(spec) == 1:
        (kind, inner), = spec.items()
        if kind == "ListOf":
            return _ListOfCodec(codec_for(inner))
        if kind == "AmpList" and isinstance(inner, list):
            fields = []
            for entry in inner:
                if not (isinstance(entry, list) and 2 <= len(entry) <= 3 and isinstance(entry[0], str)):
                    raise ValueError("bad AmpList field %r" % (entry,))
                wire = entry[0]
                wb = wire.encode("utf-8")
                py = amp._wireNameToPythonIdentifier(wb)  # how Twisted names the kw
                opt = bool(entry[2]) if len(entry) == 3 else False
                fields.append((wire, wb, py, codec_for(entry[1]), opt))
            return _AmpListCodec(fields)
    raise ValueError("bad type spec %r" % (spec,))


class TypeHandler:
    """A type spec compiled once: Twisted argument object + rep conversion."""

    def __init__(self, spec):
        self.codec = codec_for(spec)
        self.arg = self.codec.make_arg()

    def encode_one(self, rep):
        try:
            value = self.codec.to_py(rep)
        except RepError as e:
            return {"error": "RepError: %s" % e, "stage": "rep"}
        except Exception as e:
            return {"error": "RepError: %s" % format_exc(e), "stage": "rep"}
        try:
            out = self.arg.toStringProto(value, None)
            if not isinstance(out, bytes):
                # e.g. ListOf(AmpList): the element's toString returns None
                raise TypeError("toString returned %r" % (type(out).__name__,))
        except Exception as e:
            return {"error": format_exc(e), "stage": "twisted"}
        return {"hex": out.hex()}

    def decode_one(self, hexstr):
        try:
            data = _hex_bytes(hexstr)
        except RepError as e:
            return {"error": "RepError: %s" % e, "stage": "rep"}
        try:
            value = self.arg.fromStringProto(data, None)
        except Exception as e:
            return {"error": format_exc(e), "stage": "twisted"}
        try:
            return {"value": self.codec.to_rep(value)}
        except ResultError as e:
            return {"error": "ResultError: %s" % e, "stage": "result"}
        except Exception as e:
            return {"error": format_exc(e), "stage": "result"}


_handlers = {}


def handler_for(spec):
    key = json.dumps(spec, sort_keys=True)
    h = _handlers.get(key)
    if h is None:
        h = _handlers[key] = TypeHandler(spec)
    return h


# --- whole boxes --------------------------------------------------------------


def encode_box(obj):
    if not isinstance(obj, dict):
        return {"error": "RepError: box must be an object", "stage": "rep"}
    try:
        box = amp.AmpBox({_hex_bytes(k): _hex_bytes(v) for k, v in obj.items()})
    except RepError as e:
        return {"error": "RepError: %s" % e, "stage": "rep"}
    try:
        return {"hex": box.serialize().hex()}
    except Exception as e:
        return {"error": format_exc(e), "stage": "twisted"}


class _BoxCollector:
    """Box receiver + fake transport for a real amp.BinaryBoxProtocol.

    amp.parseString's own helper has no loseConnection(), so an over-long key
    makes it crash with AttributeError; we want to see the parser's real
    reaction (lengthLimitExceeded -> loseConnection) instead.
    """

    disconnecting = False

    def __init__(self):
        self.boxes = []
        self.consumed = 0
        self.lost = False
        self.parser = None

    # IBoxReceiver
    def startReceivingBoxes(self, sender):
        pass

    def ampBoxReceived(self, box):
        self.boxes.append({k.hex(): v.hex() for k, v in box.items()})
        # Offset just past this box's 00 00 terminator within the fed chunk.
        self.consumed = self.parser._compatibilityOffset

    def stopReceivingBoxes(self, reason):
        pass

    # transport
    def loseConnection(self):
        self.lost = True

    def getPeer(self):
        return "oracle"

    getHost = getPeer


def decode_boxes(hexstr):
    try:
        data = _hex_bytes(hexstr)
    except RepError as e:
        return {"error": "RepError: %s" % e, "stage": "rep"}
    c = _BoxCollector()
    p = amp.BinaryBoxProtocol(c)
    c.parser = p
    try:
        p.makeConnection(c)
        p.dataReceived(data)  # the whole string as one chunk, like parseString
    except Exception as e:
        return {"error": format_exc(e), "stage": "twisted", "boxes": c.boxes}
    if p._keyLengthLimitExceeded:
        # Boxes completed before the bad prefix were already delivered.
        (n,) = struct.unpack("!H", p._unprocessed[p._compatibilityOffset:p._compatibilityOffset + 2])
        return {
            "error": "TooLong: key length prefix %d > 255 at offset %d" % (n, p._compatibilityOffset),
            "stage": "twisted",
            "boxes": c.boxes,
        }
    return {"value": c.boxes, "unparsed": len(data) - c.consumed}


# --- main loop ------------------------------------------------------------------


def handle(req):
    if not isinstance(req, dict):
        raise ValueError("request must be an object")
    op = req.get("op")
    values = req.get("values", [])
    if op in ("encode", "decode", "encodeBox", "decodeBoxes") and not isinstance(values, list):
        raise ValueError("values must be an array")
    if op == "encode":
        h = handler_for(req["type"])
        return {"results": [h.encode_one(v) for v in values]}
    if op == "decode":
        h = handler_for(req["type"])
        return {"results": [h.decode_one(v) for v in values]}
    if op == "encodeBox":
        return {"results": [encode_box(v) for v in values]}
    if op == "decodeBoxes":
        return {"results": [decode_boxes(v) for v in values]}
    if op == "info":
        return {
            "python": sys.version.split()[0],
            "twisted": twisted.__version__,
            "cwd": os.getcwd(),
            "int_max_str_digits": getattr(sys, "get_int_max_str_digits", lambda: 0)(),
        }
    raise ValueError("unknown op %r" % (op,))


def main():
    out = sys.stdout
    for raw in sys.stdin.buffer:
        if not raw.strip():
            continue
        req = None
        try:
            req = json.loads(raw)
            if isinstance(req, dict) and req.get("op") == "quit":
                return 0
            reply = handle(req)
        except Exception as e:
            reply = {"error": format_exc(e)}
        if isinstance(req, dict) and "id" in req:
            reply["id"] = req["id"]
        # ensure_ascii keeps astral chars as \ud83d\ude00 pairs, which JS reads fine.
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
