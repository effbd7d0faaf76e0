/**
 * The demo farm watched live in Stately's inspector: every machine of the master, its worker
 * connections, remote commands and transfers, and of the two in-process workers' sessions.
 *
 * `node dist/examples/inspect/main.js [--port 8090] [--no-open]` starts a local inspector server
 * (`@statelyai/inspect/server`) and streams to it over a WebSocket. The page the browser opens is
 * Stately's hosted inspector (https://stately.ai/inspect), so the viewer's browser needs internet
 * access; the machines and the data stay on this machine and travel over the local WebSocket.
 */
import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import { runFarm } from '../farm/farm.js';

const portFlag = process.argv.indexOf('--port');
const port = portFlag >= 0 ? Number(process.argv[portFlag + 1]) : 8090;
const server = createInspectorServer({ port, autoOpen: !process.argv.includes('--no-open') });
const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${port}` });
process.stdout.write(`inspector bridge on ws://127.0.0.1:${port} (open http://127.0.0.1:${port} to watch)\n`);

try {
  process.exitCode = await runFarm({ inspect: inspector.inspect, inProcessWorkers: true });
} finally {
  // Give the last snapshots time to reach the viewer before the bridge closes.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  inspector.stop();
  server.stop();
}
// An open viewer tab keeps its WebSocket to the bridge alive; the demo is over, so leave anyway.
process.exit();
