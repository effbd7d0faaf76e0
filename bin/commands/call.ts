import { isUtf8 } from 'node:buffer';
import type { Command } from 'commander';
import { connect } from '../../actors/connect.js';
import { AmpStateError, RemoteAmpError } from '../../codec/errors.js';
import { ANSWER } from '../../codec/box.js';

/** Exit codes: 0 answered, 1 error reply, 2 no connection or the connection dropped. */
const EXIT_ERROR_REPLY = 1;
const EXIT_CONNECTION = 2;

/**
 * `ampstate call <endpoint> <Command> [key=value …]`: one raw box to any AMP server, the answer as
 * one JSON object. `key:hex=…` sends raw bytes; values that are not UTF-8 print as {"hex": "…"}.
 */
export function registerCallCommand(program: Command): void {
  program
    .command('call')
    .description('send one AMP command and print the answer as JSON')
    .argument('<endpoint>', 'client endpoint, e.g. tcp:127.0.0.1:8750 or unix:/path')
    .argument('<command>', 'the _command name')
    .argument('[fields...]', 'key=value (UTF-8 text) or key:hex=0a0b (raw bytes)')
    .option('--timeout <seconds>', 'give up after this many seconds', parseFloat)
    .option('--fire', 'fire-and-forget: send without _ask and exit once written')
    .action(async (endpoint: string, name: string, fields: string[], options: { timeout?: number; fire?: boolean }) => {
      process.exitCode = await call(endpoint, name, fields, options);
    });
}

async function call(endpoint: string, name: string, fields: string[], options: { timeout?: number; fire?: boolean }): Promise<number> {
  let box: Record<string, string | Buffer>;
  try {
    box = parseFields(fields);
  } catch (error) {
    process.stderr.write(`ampstate call: ${(error as Error).message}\n`);
    return EXIT_CONNECTION;
  }
  const timeoutMs = options.timeout === undefined ? undefined : options.timeout * 1000;
  let connection;
  try {
    connection = await connect(endpoint, { timeoutMs });
  } catch (error) {
    process.stderr.write(`ampstate call: ${(error as Error).message}\n`);
    return EXIT_CONNECTION;
  }
  try {
    if (options.fire) {
      await connection.callRemoteString(name, box, { requiresAnswer: false });
      connection.close();
      await connection.closed;
      return 0;
    }
    const answer = await connection.callRemoteString(name, box, { timeoutMs });
    const printable: Record<string, string | { hex: string }> = {};
    for (const [key, value] of answer) {
      if (key !== ANSWER) printable[key] = isUtf8(value) ? value.toString('utf8') : { hex: value.toString('hex') };
    }
    process.stdout.write(JSON.stringify(printable) + '\n');
    return 0;
  } catch (error) {
    if (error instanceof RemoteAmpError) {
      const code = (error as RemoteAmpError & { receivedCode?: string }).receivedCode ?? error.errorCode;
      process.stderr.write(`${code}: ${error.description}\n`);
      return EXIT_ERROR_REPLY;
    }
    const message = error instanceof AmpStateError ? `${error.code}: ${error.message}` : String(error);
    process.stderr.write(`ampstate call: connection failed: ${message}\n`);
    return EXIT_CONNECTION;
  } finally {
    connection.close();
  }
}

function parseFields(fields: readonly string[]): Record<string, string | Buffer> {
  const box: Record<string, string | Buffer> = {};
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq <= 0) throw new Error(`field ${JSON.stringify(field)} is not key=value`);
    const key = field.slice(0, eq);
    const value = field.slice(eq + 1);
    if (key.endsWith(':hex')) {
      if (!/^(?:[0-9a-fA-F]{2})*$/.test(value)) throw new Error(`field ${JSON.stringify(key)} is not valid hex`);
      box[key.slice(0, -4)] = Buffer.from(value, 'hex');
    } else box[key] = value;
  }
  return box;
}
