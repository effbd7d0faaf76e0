/**
 * The worker side of bench/scale.ts, one of several child processes so that no process needs more
 * file descriptors than `ulimit -n` allows: `node dist/bench/scale-workers.js --port P --first F
 * --count C --basedir DIR`. Starts C worker sessions (names w<F>…w<F+C-1>), at most `--connecting`
 * logging in at once so the master's listen backlog is not overrun, prints one JSON line per
 * progress step and `{"attached": C, "fds": n, "rss": bytes}` once all are attached, and stops
 * them all and exits when its stdin closes.
 */
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { WorkerSession } from '../actors/worker/session.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    first: { type: 'string', default: '0' },
    count: { type: 'string' },
    basedir: { type: 'string' },
    password: { type: 'string', default: 'scale' },
    connecting: { type: 'string', default: '200' },
  },
});
const port = Number(values.port);
const first = Number(values.first);
const count = Number(values.count);
const maxConnecting = Number(values.connecting);
const quiet = pino({ level: 'silent' });

const sessions: WorkerSession[] = [];
let attached = 0;
let connecting = 0;
let next = 0;

function report(line: Record<string, number>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Starts sessions until `maxConnecting` are on their way in; each attach makes room for the next. */
function startMore(): void {
  while (connecting < maxConnecting && next < count) {
    const session = new WorkerSession({
      master: `tcp:127.0.0.1:${port}`,
      name: `w${first + next++}`,
      password: values.password!,
      basedir: values.basedir!,
      logger: quiet,
      deleteLeftoverDirs: false,
    });
    connecting++;
    let counted = false;
    session.notices$.subscribe((notice) => {
      if (notice.type !== 'attached' || counted) return;
      counted = true;
      connecting--;
      attached++;
      if (attached % 1000 === 0 && attached < count) report({ progress: attached });
      if (attached === count) report({ attached, fds: readdirSync('/proc/self/fd').length, rss: process.memoryUsage().rss });
      startMore();
    });
    sessions.push(session.start());
  }
}

startMore();
process.stdin.on('end', () => {
  void Promise.all(sessions.map((session) => session.stop())).then(() => process.exit(0));
});
process.stdin.resume();
