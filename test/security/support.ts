/** What the listener-limit tests share: a logger that keeps its lines, and waits on refusals and sockets. */
import { connect as netConnect, type Socket } from 'node:net';
import { pino, type Logger } from 'pino';
import { filter, firstValueFrom, type Observable } from 'rxjs';
import type { Refusal, RefusalReason } from '../../actors/refusals.js';

export type LogLine = Record<string, unknown> & { readonly msg: string; readonly level: number };

/** A pino logger whose lines land in an array, parsed. */
export function memoryLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { logger: pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) }), lines };
}

/** pino's warn level. */
export const WARN = 40;

/** The warn lines that report `reason`: each must name the peer and carry no error (so no stack). */
export function refusalLines(lines: readonly LogLine[], reason: RefusalReason): LogLine[] {
  return lines.filter((line) => line.level === WARN && line.reason === reason);
}

export function nextRefusal(refusals$: Observable<Refusal>, reason: RefusalReason): Promise<Refusal> {
  return firstValueFrom(refusals$.pipe(filter((refusal) => refusal.reason === reason)));
}

/** A raw TCP connection to 127.0.0.1, once connected, and its address as the listener names it. */
export function rawSocket(port: number): Promise<Socket & { readonly peer: string }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => resolve(Object.assign(socket, { peer: `127.0.0.1:${socket.localPort}` })));
    socket.once('error', reject);
  });
}

/** Resolves when the socket has closed (whoever closed it). */
export function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed && socket.closed) resolve();
    else socket.once('close', () => resolve());
    socket.on('error', () => undefined);
  });
}
