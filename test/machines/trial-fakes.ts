/**
 * Fake processes for the trial model tests: one small node script plays every process the trial
 * manager starts, and a hub (a unix socket server in this test process) scripts them.
 *
 * - `SCRIPT -c …` is the manager's Python probe: prints an environment at once.
 * - `SCRIPT list_tests.py NAMES…` is the Python test listing: connects to the hub and prints what the
 *   test sends (a JSON test list), or exits 1 when the test sends `FAIL`.
 * - `SCRIPT worker` is a worker process: connects to the hub and relays fd 3 → hub and hub → fd 4,
 *   so the test answers the manager's AMP commands itself; on a second (control) socket it tells
 *   the test when fd 3 reached EOF (the manager closed it), and exits 0 when the test ends that socket.
 *   Killing it (by pid) is a crash.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { AmpConnection } from '../../actors/amp-connection.js';
import { responders } from '../../actors/responders.js';
import { AddSuccess, Run, Start } from '../../codec/protocols/trial-commands.js';
import { deferred, type Deferred } from './gated-pair.js';
import { temporaryDirectory } from '../support/temp-directory.js';

export const silent = pino({ level: 'silent' });

const SCRIPT = `#!${process.execPath}
import { connect } from 'node:net';
import { createReadStream, createWriteStream } from 'node:fs';
const args = process.argv.slice(2);
if (args[0] === '-c') {
  process.stdout.write(JSON.stringify({ sysPath: [], workertrial: '/fake/workertrial.py' }) + '\\n');
  process.exit(0);
}
const socket = connect(process.env.AMPSTATE_FAKE_HUB);
if (args[0] === 'worker') {
  socket.write('worker ' + process.pid + '\\n');
  const input = createReadStream('', { fd: 3 });
  const output = createWriteStream('', { fd: 4 });
  output.on('error', () => undefined);
  input.on('error', () => undefined);
  // fd 3's EOF and the exit go over a second socket, so the AMP stream stays open either way.
  const control = connect(process.env.AMPSTATE_FAKE_HUB);
  control.write('control ' + process.pid + '\\n');
  input.pipe(socket, { end: false });
  input.on('end', () => control.write('eof\\n'));
  socket.on('data', (chunk) => output.write(chunk));
  socket.on('error', () => process.exit(3));
  control.on('end', () => output.end(() => process.exit(0)));
  control.on('error', () => process.exit(3));
} else {
  socket.write('list ' + process.pid + '\\n');
  let text = '';
  socket.on('data', (chunk) => (text += chunk));
  socket.on('end', () => {
    if (text.startsWith('FAIL')) {
      process.stderr.write('fake listing failed\\n');
      process.exit(1);
    }
    process.stdout.write(text + '\\n');
    process.exit(0);
  });
}
`;

/** The test's side of one fake worker process: an AMP peer that answers when told. */
export class FakeWorker {
  readonly pid: number;
  readonly connection: AmpConnection;
  readonly starts: string[] = [];
  readonly runs: string[] = [];
  /** Runs answered so far. */
  answered = 0;
  /** The manager closed the worker's fd 3. */
  eof = false;
  private readonly pending: Deferred<{ success: boolean }>[] = [];

  private control: Socket | undefined;
  private exitRequested = false;

  constructor(pid: number, socket: Socket) {
    this.pid = pid;
    const table = responders()
      .on(Start, ({ directory }) => {
        this.starts.push(directory);
        return { success: true };
      })
      .on(Run, ({ testCase }) => {
        this.runs.push(testCase);
        const answer = deferred<{ success: boolean }>();
        this.pending.push(answer);
        return answer.promise;
      });
    this.connection = new AmpConnection(socket, { responders: table, logger: silent, role: 'server', name: 'FakeWorker' });
  }

  /** Reports `outcomes` successes for the Run in progress, then answers it. */
  async answerRun(outcomes: number): Promise<void> {
    const test = this.runs.at(-1) ?? '?';
    for (let i = 0; i < outcomes; i++) await this.connection.callRemote(AddSuccess, { testName: `${test}#${i}` });
    const answer = this.pending.shift();
    if (answer === undefined) throw new Error('no Run to answer');
    this.answered += 1;
    answer.resolve({ success: true });
  }

  /** Ends the relay: the process exits 0 (asked to stop or not). */
  exit(): void {
    this.exitRequested = true;
    this.control?.end();
  }

  attachControl(control: Socket): void {
    this.control = control;
    control.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('eof')) this.eof = true;
    });
    control.on('error', () => undefined);
    control.resume();
    if (this.exitRequested) control.end();
  }

  kill(): void {
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** The hub every fake process connects to. */
export class FakeHub {
  readonly directory: string;
  readonly script: string;
  readonly socketPath: string;
  readonly workers: FakeWorker[] = [];
  /** Listing processes waiting for their answer. */
  readonly listings: Socket[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly controls = new Map<number, Socket>();

  private constructor() {
    this.directory = temporaryDirectory('ampstate-trial-model-');
    this.script = join(this.directory, 'fake-process.mjs');
    writeFileSync(this.script, SCRIPT);
    chmodSync(this.script, 0o755);
    this.socketPath = join(this.directory, 'hub.sock');
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  static async open(): Promise<FakeHub> {
    const hub = new FakeHub();
    await new Promise<void>((resolve) => hub.server.listen(hub.socketPath, resolve));
    return hub;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, AMPSTATE_FAKE_HUB: this.socketPath };
  }

  get workerArgv(): string[] {
    return [process.execPath, this.script, 'worker'];
  }

  /** Answers the (first) waiting listing with these ids. */
  list(ids: readonly string[]): void {
    const socket = this.listings.shift();
    if (socket === undefined) throw new Error('no listing waiting');
    socket.end(JSON.stringify({ ids, count: ids.length, sysPath: [], workertrial: '/fake/workertrial.py', twisted: 'fake' }));
  }

  failListing(): void {
    this.listings.shift()?.end('FAIL');
  }

  async close(): Promise<void> {
    for (const worker of this.workers) worker.kill();
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const newline = head.indexOf(10);
      if (newline < 0) return;
      socket.off('data', onData);
      socket.pause();
      const [role, pid] = head.subarray(0, newline).toString().split(' ');
      const rest = head.subarray(newline + 1);
      if (rest.length > 0) socket.unshift(rest);
      if (role === 'worker') {
        const worker = new FakeWorker(Number(pid), socket);
        this.workers.push(worker);
        socket.resume();
        const control = this.controls.get(Number(pid));
        if (control !== undefined) worker.attachControl(control);
      } else if (role === 'control') {
        const worker = this.workers.find((w) => w.pid === Number(pid));
        if (worker === undefined) this.controls.set(Number(pid), socket);
        else worker.attachControl(socket);
      } else this.listings.push(socket);
    };
    socket.on('data', onData);
  }
}
