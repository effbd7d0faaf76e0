/**
 * The ampstate side of the ampstate ↔ ampstate benchmark, run as a child process so that client
 * and server do not share a core: `node dist/bench/amp-server.js`. Listens on 127.0.0.1 (ephemeral
 * port), prints `{"port": N}`, answers Hello and Echo like test/python/amp_peer.py, and exits when
 * its stdin closes.
 */
import { listen } from '../actors/connect.js';
import { responders } from '../actors/responders.js';
import { Echo, Hello, greet } from '../test/fixtures/commands.js';

const server = await listen('tcp:0', {
  responders: () =>
    responders()
      .on(Hello, ({ count, name }) => greet(count, name))
      .on(Echo, ({ data }) => ({ data })),
});
const address = server.address;
process.stdout.write(JSON.stringify({ port: typeof address === 'string' ? address : address.port }) + '\n');
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
