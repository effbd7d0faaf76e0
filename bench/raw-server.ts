/**
 * The limit for bench/amp: plain Node TCP with the cheapest framing there is, a 4-byte big-endian
 * length before each message, echoed back frame by frame. Run as a child process
 * (`node dist/bench/raw-server.js`); prints `{"port": N}`, exits when its stdin closes.
 */
import * as net from 'node:net';
import { FrameReader } from './raw-framing.js';

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  // Same batching as AmpConnection: frames echoed in one tick leave in one writev.
  const reader = new FrameReader((frame) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    socket.write(frame);
  }, true);
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.on('error', () => socket.destroy());
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as net.AddressInfo).port }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
