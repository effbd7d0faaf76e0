#!/usr/bin/env node
/**
 * Entry point of the TypeScript trial worker: `node dist/actors/trial/worker-main.js [options]`.
 * Speaks AMP on fd 3 (manager → worker) and fd 4 (worker → manager), like workertrial.py, and
 * exits 0 when fd 3 reaches EOF (after the Run in progress, if any, has been answered).
 *
 * Options (unknown options and stray values are ignored, so a Python manager's worker arguments such
 * as `--recursionlimit 2000` are harmless):
 *   --dialect 22.4|22.10   manager schema (default 22.10, streams)
 *   --force-gc             call global.gc() around every test when node runs with --expose-gc
 *   --node-option OPTION   extra option for the node:test processes (repeatable), e.g. --import=tsx
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { Duplex } from 'node:stream';
import { defaultLogger } from '../logger.js';
import { TrialWorker, parseWorkerArguments } from './worker.js';

function main(): void {
  const args = parseWorkerArguments(process.argv.slice(2));
  const input = createReadStream('', { fd: 3 });
  const output = createWriteStream('', { fd: 4 });
  const worker = new TrialWorker(Duplex.from({ readable: input, writable: output }), {
    dialect: args.dialect,
    forceGc: args.forceGc,
    nodeOptions: args.nodeOptions,
  });
  let exiting = false;
  /** Flushes what the connection still holds for fd 4 (closing it ends fd 4), then exits. */
  const exit = (code: number) => {
    if (exiting) return;
    exiting = true;
    worker.ended(code === 0, code === 0 ? undefined : 'connection to the manager broke');
    if (output.closed || output.destroyed) process.exit(code);
    output.once('close', () => process.exit(code));
    worker.connection.close();
    // A manager that went away leaves nothing to flush to.
    setTimeout(() => process.exit(code), 2000).unref();
  };
  output.on('error', (error) => {
    defaultLogger.error({ err: error }, 'trial worker: cannot write to fd 4, exiting');
    process.exit(1);
  });
  input.on('error', (error) => {
    defaultLogger.error({ err: error }, 'trial worker: cannot read fd 3, exiting');
    exit(1);
  });
  let inputEnded = false;
  input.once('end', () => {
    inputEnded = true;
    // As workertrial: EOF is only seen between commands, so the Run in progress finishes first.
    void worker.stopping().then(() => exit(0));
  });
  // A protocol error closes the connection first: exit 1, as workertrial dies on a parser exception.
  void worker.connection.closed.then(() => {
    if (!inputEnded) exit(1);
  });
}

main();
