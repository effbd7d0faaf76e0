#!/usr/bin/python3
"""A real Twisted AMP server that receives an ampstate ByteStream with nothing but ordinary commands.

Always run with /usr/bin/python3 (Debian's interpreter, which has Twisted).
Logs go to stderr; stdout carries exactly one JSON line.

  stream_peer.py server
      Listen on 127.0.0.1 (a free port), print {"listening": port}, serve the
      commands below until stdin reaches EOF.

Commands (the TS side declares Upload as PeerUpload in test/streaming/stream-peer.ts;
StreamOpen/StreamWrite/StreamClose are ampstate's, codec/protocols/streams.ts):
  StreamOpen()                                   -> streamId: Integer
  StreamWrite(streamId: Integer, data: String)   -> {}
  StreamClose(streamId: Integer, failure: Unicode, optional) -> {}
  Upload(name: Unicode, content: Integer)        -> size, chunks, largest: Integer; sha256: Unicode; order: ListOf(Unicode)
      `content` names a stream; the answer waits until that stream is closed.
      `order` lists the commands this connection received, in order.
"""

import hashlib
import json
import sys

sys.dont_write_bytecode = True

from twisted.internet import defer, protocol, reactor, stdio
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.logger import globalLogBeginner, textFileLogObserver
from twisted.protocols import amp


class StreamOpen(amp.Command):
    arguments = []
    response = [(b"streamId", amp.Integer())]


class StreamWrite(amp.Command):
    arguments = [(b"streamId", amp.Integer()), (b"data", amp.String())]
    response = []


class StreamClose(amp.Command):
    arguments = [(b"streamId", amp.Integer()), (b"failure", amp.Unicode(optional=True))]
    response = []


class Upload(amp.Command):
    arguments = [(b"name", amp.Unicode()), (b"content", amp.Integer())]
    response = [
        (b"size", amp.Integer()),
        (b"sha256", amp.Unicode()),
        (b"chunks", amp.Integer()),
        (b"largest", amp.Integer()),
        (b"order", amp.ListOf(amp.Unicode())),
    ]


class Stream:
    def __init__(self):
        self.hash = hashlib.sha256()
        self.size = 0
        self.chunks = 0
        self.largest = 0
        self.closed = defer.Deferred()


class StreamPeer(amp.AMP):
    def __init__(self):
        super().__init__()
        self.streams = {}
        self.next_id = 0
        self.order = []

    def ampBoxReceived(self, box):
        if b"_command" in box:
            self.order.append(box[b"_command"].decode("ascii"))
        super().ampBoxReceived(box)

    @StreamOpen.responder
    def stream_open(self):
        stream_id = self.next_id
        self.next_id += 1
        self.streams[stream_id] = Stream()
        return {"streamId": stream_id}

    @StreamWrite.responder
    def stream_write(self, streamId, data):
        stream = self.streams[streamId]
        stream.hash.update(data)
        stream.size += len(data)
        stream.chunks += 1
        stream.largest = max(stream.largest, len(data))
        return {}

    @StreamClose.responder
    def stream_close(self, streamId, failure=None):
        stream = self.streams.pop(streamId)
        if failure is None:
            stream.closed.callback(stream)
        else:
            stream.closed.errback(RuntimeError(failure))
        return {}

    @Upload.responder
    def upload(self, name, content):
        def answer(stream):
            return {
                "size": stream.size,
                "sha256": stream.hash.hexdigest(),
                "chunks": stream.chunks,
                "largest": stream.largest,
                "order": list(self.order),
            }

        return self.streams[content].closed.addCallback(answer)


class StopOnEof(protocol.Protocol):
    def connectionLost(self, reason):
        if reactor.running:
            reactor.stop()


def main():
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    factory = protocol.Factory.forProtocol(StreamPeer)

    def listening(port):
        print(json.dumps({"listening": port.getHost().port}), flush=True)

    TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory).addCallback(listening)
    stdio.StandardIO(StopOnEof())
    reactor.run()


if __name__ == "__main__":
    main()
