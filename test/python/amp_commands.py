"""The interop command set, shared by every mode of amp_peer.py.

Wire names are exactly the class names (Twisted's default commandName) and the
argument names below.  The Types schema is written as oracle type specs so the
same table drives both the amp.Command and the JSON representations.
"""

from twisted.protocols import amp

from codec_oracle import codec_for


class FatalBoom(Exception):
    """Declared as a fatal error of Hello (code FATAL_BOOM)."""


class Hello(amp.Command):
    arguments = [(b"count", amp.Integer()), (b"name", amp.String())]
    response = [(b"greeting", amp.Unicode())]
    errors = {ValueError: b"BAD_VALUE"}
    fatalErrors = {FatalBoom: b"FATAL_BOOM"}


class Ping(amp.Command):
    arguments = [(b"n", amp.Integer())]
    response = []
    requiresAnswer = False


class PingCount(amp.Command):
    arguments = []
    response = [(b"count", amp.Integer()), (b"total", amp.Integer())]


# (wire name, oracle type spec); every field optional, response == arguments.
TYPES_SCHEMA = [
    ("fl", "Float"),
    ("d", "Decimal"),
    ("t", "DateTime"),
    ("b", "Boolean"),
    ("u", "Unicode"),
    ("li", {"ListOf": "Integer"}),
    ("lu", {"ListOf": "Unicode"}),
    ("al", {"AmpList": [["a", "Integer"], ["b", "Unicode", True]]}),
    ("from", "Integer"),
    ("foo-bar", "Integer"),
    ("s", "String"),
    ("i", "Integer"),
    ("p", "Path"),
    ("lli", {"ListOf": {"ListOf": "Integer"}}),
]

# wire name -> (python kw name, codec); python names: from -> From, foo-bar -> foo_bar
TYPES_CODECS = {
    wire: (amp._wireNameToPythonIdentifier(wire.encode()), codec_for(spec))
    for wire, spec in TYPES_SCHEMA
}


def _types_args():
    return [(wire.encode(), codec_for(spec).make_arg(optional=True)) for wire, spec in TYPES_SCHEMA]


class Types(amp.Command):
    arguments = _types_args()
    response = _types_args()


class Echo(amp.Command):
    arguments = [(b"data", amp.String())]
    response = [(b"data", amp.String())]


class Delay(amp.Command):
    arguments = [(b"ms", amp.Integer()), (b"id", amp.Integer())]
    response = [(b"id", amp.Integer())]


class Switch(amp.ProtocolSwitchCommand):
    arguments = []
    response = []


class WhoAmI(amp.Command):
    arguments = []
    response = [(b"cn", amp.Unicode())]


StartTLS = amp.StartTLS

# Test hook: a Hello with this count makes the *server* write a key-length
# prefix of 256 (bytes 01 00) so the caller's parser hits TooLong.
TOOLONG_COUNT = 255255
