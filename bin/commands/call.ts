import type { Command } from 'commander';
import { connect } from '../../actors/connect.js';
import { AmpStateError, RemoteAmpError } from '../../codec/errors.js';
import { encodeFields, loadCommandSchema, printableAnswer, SCHEMA_HELP, type CommandSchema } from './call-schema.js';

/** Exit codes: 0 answered, 1 error reply, 2 no connection or the connection dropped. */
const EXIT_ERROR_REPLY = 1;
const EXIT_CONNECTION = 2;

interface CallCliOptions {
  timeout?: number;
  fire?: boolean;
  schema?: string;
}

/**
 * `ampstate call <endpoint> <Command> [key=value …]`: one box to any AMP server, the answer as
 * one JSON object. `key:TYPE=…` encodes typed values, `--schema` declares a command's types (see
 * call-schema.ts); undeclared answer values that are not UTF-8 print as {"hex": "…"}.
 */
export function registerCallCommand(program: Command): void {
  program
    .command('call')
    .description('send one AMP command and print the answer as JSON')
    .argument('<endpoint>', 'client endpoint, e.g. tcp:127.0.0.1:8750 or unix:/path')
    .argument('<command>', 'the _command name')
    .argument('[fields...]', 'key=value (UTF-8 text), key:hex=0a0b (raw bytes), key:int=3 … (see below)')
    .option('--timeout <seconds>', 'give up after this many seconds', parseFloat)
    .option('--fire', 'fire-and-forget: send without _ask and exit once written')
    .option('--schema <file>', "a JSON file declaring commands' argument and response types (see below)")
    .addHelpText('after', SCHEMA_HELP)
    .action(async (endpoint: string, name: string, fields: string[], options: CallCliOptions) => {
      process.exitCode = await call(endpoint, name, fields, options);
    });
}

async function call(endpoint: string, name: string, fields: string[], options: CallCliOptions): Promise<number> {
  let box: Record<string, string | Uint8Array>;
  let schema: CommandSchema | undefined;
  try {
    if (options.schema !== undefined) schema = loadCommandSchema(options.schema, name);
    box = encodeFields(fields, schema);
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
    process.stdout.write(JSON.stringify(printableAnswer(answer, schema)) + '\n');
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
