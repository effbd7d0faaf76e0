#!/usr/bin/python3
"""A real Twisted AMP peer that passes file descriptors (amp.Descriptor) over a UNIX socket.

Always run with /usr/bin/python3 (Debian's interpreter, which has Twisted).
Logs go to stderr; stdout carries exactly one JSON line per mode.

  descriptor_peer.py server --path P
      Listen on the UNIX socket P, print {"listening": P}, serve the commands
      below until stdin reaches EOF.

  descriptor_peer.py client --path P
      Connect to P (an ampstate server with the same commands), run the
      scenario below, print {"ok": bool, ...observations} and exit 0; exit 1
      with {"harness_error": "..."} when the harness itself broke.

Commands (the TS side declares the same, test/interop/descriptor-commands.ts):
  MakePipe()                         -> reader: Descriptor, writer: Descriptor  (a fresh os.pipe())
  ReadPipe(reader: Descriptor, length: Integer) -> data: String  (reads exactly length bytes, closes)
  WritePipe(writer: Descriptor, data: String)   -> {}            (writes data, closes)
  Bounce(b: Descriptor, a: Descriptor)          -> b: Descriptor, a: Descriptor  (sends them back)
  Ordinals()                          -> received: ListOf(Integer)
      The Descriptor ordinals this end has read in boxes, in order, as they were on the wire
      (within a box in the key order reader, writer, a, b).
"""

import argparse
import json
import os
import sys
import traceback

sys.dont_write_bytecode = True

from twisted.internet import defer, protocol, reactor, stdio
from twisted.internet.endpoints import UNIXClientEndpoint, UNIXServerEndpoint, connectProtocol
from twisted.logger import globalLogBeginner, textFileLogObserver
from twisted.protocols import amp


class MakePipe(amp.Command):
    arguments = []
    response = [(b"reader", amp.Descriptor()), (b"writer", amp.Descriptor())]


class ReadPipe(amp.Command):
    arguments = [(b"reader", amp.Descriptor()), (b"length", amp.Integer())]
    response = [(b"data", amp.String())]


class WritePipe(amp.Command):
    arguments = [(b"writer", amp.Descriptor()), (b"data", amp.String())]
    response = []


class Bounce(amp.Command):
    # Declared out of key order: Twisted numbers descriptors in declaration order, b before a.
    arguments = [(b"b", amp.Descriptor()), (b"a", amp.Descriptor())]
    response = [(b"b", amp.Descriptor()), (b"a", amp.Descriptor())]


class Ordinals(amp.Command):
    arguments = []
    response = [(b"received", amp.ListOf(amp.Integer()))]


DESCRIPTOR_KEYS = (b"reader", b"writer", b"a", b"b")


def read_exactly(fd, length):
    data = b""
    while len(data) < length:
        chunk = os.read(fd, length - len(data))
        if not chunk:
            break
        data += chunk
    return data


class DescriptorPeer(amp.AMP):
    """Records every Descriptor ordinal it reads; keeps what it sent open until the connection ends."""

    def __init__(self):
        super().__init__()
        self.ordinals = []
        self.keep_open = []

    def ampBoxReceived(self, box):
        # Commands and answers alike; descriptor keys only appear in the boxes of the commands above.
        for key in DESCRIPTOR_KEYS:
            if key in box:
                self.ordinals.append(int(box[key]))
        super().ampBoxReceived(box)

    def connectionLost(self, reason):
        for fd in self.keep_open:
            try:
                os.close(fd)
            except OSError:
                pass
        super().connectionLost(reason)

    @MakePipe.responder
    def make_pipe(self):
        reader, writer = os.pipe()
        # Twisted sends a descriptor when it writes, later: it must stay open until then.
        self.keep_open += [reader, writer]
        return {"reader": reader, "writer": writer}

    @ReadPipe.responder
    def read_pipe(self, reader, length):
        data = read_exactly(reader, length)
        os.close(reader)
        return {"data": data}

    @WritePipe.responder
    def write_pipe(self, writer, data):
        os.write(writer, data)
        os.close(writer)
        return {}

    @Bounce.responder
    def bounce(self, a, b):
        self.keep_open += [a, b]
        return {"a": a, "b": b}

    @Ordinals.responder
    def report_ordinals(self):
        return {"received": list(self.ordinals)}


class StopOnEof(protocol.Protocol):
    def connectionLost(self, reason):
        if reactor.running:
            reactor.stop()


def serve(path):
    def listening(port):
        print(json.dumps({"listening": path}), flush=True)

    factory = protocol.Factory.forProtocol(DescriptorPeer)
    UNIXServerEndpoint(reactor, path).listen(factory).addCallback(listening)
    stdio.StandardIO(StopOnEof())
    reactor.run()


@defer.inlineCallbacks
def scenario(path):
    """The Python-client side: pipes made here travel to the ampstate server and back."""
    peer = yield connectProtocol(UNIXClientEndpoint(reactor, path), DescriptorPeer())
    result = {}
    # 1. Bytes written here are read there, through a descriptor sent there.
    reader, writer = os.pipe()
    os.write(writer, b"from python")
    answer = yield peer.callRemote(ReadPipe, reader=reader, length=11)
    result["read_there"] = answer["data"].decode()
    os.close(reader)
    os.close(writer)
    # 2. Bytes written there arrive here.
    reader, writer = os.pipe()
    yield peer.callRemote(WritePipe, writer=writer, data=b"from typescript")
    os.close(writer)
    result["written_there"] = read_exactly(reader, 15).decode()
    os.close(reader)
    # 3. Two descriptors in one box, and back: write through the returned write end.
    reader, writer = os.pipe()
    answer = yield peer.callRemote(Bounce, a=reader, b=writer)
    os.write(answer["b"], b"round trip")
    result["round_trip"] = read_exactly(reader, 10).decode()
    for fd in (reader, writer, answer["a"], answer["b"]):
        os.close(fd)
    # 4. Once more, so that both counters pass 2.
    reader, writer = os.pipe()
    answer = yield peer.callRemote(Bounce, a=reader, b=writer)
    os.write(answer["b"], b"again")
    result["again"] = read_exactly(reader, 5).decode()
    for fd in (reader, writer, answer["a"], answer["b"]):
        os.close(fd)
    result["answer_ordinals"] = list(peer.ordinals)
    peer.transport.loseConnection()
    return result


def run_client(path):
    outcome = {}

    def done(result):
        outcome.update(result, ok=True)

    def failed(failure):
        outcome.update(harness_error=failure.getTraceback())

    def finish(_):
        reactor.stop()

    d = scenario(path)
    d.addCallbacks(done, failed).addBoth(finish)
    reactor.callLater(60, lambda: reactor.running and (outcome.setdefault("harness_error", "timeout"), reactor.stop()))
    reactor.run()
    print(json.dumps(outcome), flush=True)
    return 1 if "harness_error" in outcome else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["server", "client"])
    parser.add_argument("--path", required=True)
    args = parser.parse_args()
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    try:
        if args.mode == "server":
            serve(args.path)
            return 0
        return run_client(args.path)
    except Exception:
        print(json.dumps({"harness_error": traceback.format_exc()}), flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
