/**
 * A hand-driven msgpack worker for wire-level tests: it connects like a 3.7 worker (Basic auth on
 * the upgrade, binary frames), keeps every frame the master sends, and lets a test answer each
 * one by hand, so the exact messages (keys, seq numbers, str vs bin) can be asserted.
 */
import { request as httpRequest } from 'node:http';
import { decode, encode } from '@msgpack/msgpack';
import { WebSocket } from 'ws';
import { basicAuthHeader } from '../../actors/master/msgpack/basic-auth.js';

export type Frame = Record<string, unknown> & { op: string; seq_number: number };

export class RawWorker {
  /** Every frame the master sent, in order. */
  readonly frames: Frame[] = [];
  private readonly queue: Frame[] = [];
  private seq = 0;
  private readonly waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.binaryType = 'nodebuffer';
    socket.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) return;
      const frame = decode(data) as Frame;
      this.frames.push(frame);
      this.queue.push(frame);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    socket.on('error', () => undefined);
  }

  static async connect(port: number, options: { username?: string; password?: string; autoPong?: boolean } = {}): Promise<RawWorker> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}`, {
      headers: { Authorization: basicAuthHeader(options.username ?? 'w1', options.password ?? 'pw') },
      autoPong: options.autoPong ?? true,
    });
    const worker = new RawWorker(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
      socket.once('error', reject);
    });
    return worker;
  }

  /** The next frame not yet taken (optionally the next one with `op`); others stay queued. */
  async next(op?: string, timeoutMs = 3000): Promise<Frame> {
    return this.take((frame) => op === undefined || frame.op === op, timeoutMs, op ?? 'frame');
  }

  /** Frames received and not taken yet. */
  pending(): Frame[] {
    return [...this.queue];
  }

  private async take(matches: (frame: Frame) => boolean, timeoutMs: number, what: string): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.queue.findIndex(matches);
      if (index >= 0) return this.queue.splice(index, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} from the master within ${timeoutMs} ms (queued: ${JSON.stringify(this.queue.map((frame) => frame.op))})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  sendRaw(message: unknown): void {
    this.socket.send(encode(message), { binary: true });
  }

  reply(request: Frame, result: unknown = null, isException = false): void {
    this.sendRaw({ op: 'response', seq_number: request.seq_number, result, ...(isException ? { is_exception: true } : {}) });
  }

  /** A worker → master request; resolves with the master's response frame. */
  async request(op: string, fields: Record<string, unknown> = {}): Promise<Frame> {
    const seq = this.seq++;
    this.sendRaw({ ...fields, op, seq_number: seq });
    return this.responseTo(seq);
  }

  responseTo(seq: number, timeoutMs = 3000): Promise<Frame> {
    return this.take((frame) => frame.op === 'response' && frame.seq_number === seq, timeoutMs, `response to seq ${seq}`);
  }

  /** The worker's side of a finished command: its updates, then complete. */
  async finishCommand(commandId: string, updates: Array<[string, unknown]>, failure: string | null = null): Promise<void> {
    if (updates.length > 0) expectOk(await this.request('update', { command_id: commandId, args: updates }));
    expectOk(await this.request('complete', { command_id: commandId, args: failure }));
  }

  terminate(): void {
    this.socket.terminate();
  }
}

function expectOk(response: Frame): void {
  if (response.is_exception === true) throw new Error(`master refused: ${String(response.result)}`);
}

export function defaultInfo(basedir = '/srv/w', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    admin: 'Admin <a@b>\n',
    host: 'raw test worker\n',
    environ: { HOME: '/home/w', PATH: '/usr/bin' },
    system: 'posix',
    basedir,
    numcpus: 1,
    version: '3.7.0-2',
    worker_commands: { shell: '3.1', mkdir: '3.1', listdir: '3.1' },
    delete_leftover_dirs: 0,
    ...extra,
  };
}

/**
 * Answers the handshake as a 3.7 worker would, with `entries` in the basedir. Returns the frames
 * the master sent, in order.
 */
export async function serveHandshake(worker: RawWorker, options: { info?: Record<string, unknown>; entries?: string[]; builders?: number } = {}): Promise<Frame[]> {
  const info = options.info ?? defaultInfo();
  const seen: Frame[] = [];
  const take = async () => {
    const frame = await worker.next();
    seen.push(frame);
    return frame;
  };
  const attached = await take();
  worker.reply(attached);
  const getInfo = await take();
  worker.reply(getInfo, info);
  const settings = await take();
  worker.reply(settings);
  for (;;) {
    const frame = await take();
    if (frame.op === 'print') {
      worker.reply(frame);
      if (seen.filter((candidate) => candidate.op === 'print').length >= 1 + (options.builders ?? 1)) return seen;
      continue;
    }
    if (frame.op !== 'start_command') throw new Error(`unexpected ${frame.op} in the handshake`);
    worker.reply(frame);
    const commandId = String(frame.command_id);
    const args = frame.args as Record<string, unknown>;
    if (frame.command_name === 'listdir') await worker.finishCommand(commandId, [['files', options.entries ?? ['info']], ['rc', 0]]);
    else if (frame.command_name === 'stat') {
      const isDir = !String(args.path).endsWith('.txt');
      await worker.finishCommand(commandId, [['stat', [isDir ? 0o040755 : 0o100644, 1, 1, 1, 0, 0, 10, 0, 0, 0]], ['rc', 0]]);
    } else await worker.finishCommand(commandId, [['rc', 0]]);
  }
}

/** An HTTP upgrade request with the given Authorization header; resolves with the status code. */
export function upgradeStatus(port: number, authorization: string | undefined, upgrade = true): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = upgrade
      ? { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' }
      : {};
    if (authorization !== undefined) headers.Authorization = authorization;
    const request = httpRequest({ host: '127.0.0.1', port, path: '/', headers });
    request.on('response', (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, headers: response.headers });
    });
    request.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode ?? 0, headers: response.headers });
    });
    request.on('error', reject);
    request.end();
  });
}
