/**
 * Client for test/python/codec_oracle.py: one long-lived Python child (with one Twisted version of
 * test/support/twisted-peers.ts) speaking JSON lines, plus the conversions between our values and
 * the oracle's JSON representations (test/python/README.md §1).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DateTimeValue, DecimalValue, amp, type AmpType } from '../../codec/index.js';
import { peerEnv, type TwistedPeer } from '../support/twisted-peers.js';

export const ORACLE_SCRIPT = fileURLToPath(new URL('../python/codec_oracle.py', import.meta.url));

export type Spec =
  | 'Integer'
  | 'String'
  | 'Unicode'
  | 'Boolean'
  | 'Float'
  | 'Decimal'
  | 'DateTime'
  | 'Path'
  | { readonly ListOf: Spec }
  | { readonly AmpList: readonly (readonly [string, Spec] | readonly [string, Spec, boolean])[] };

export type Rep = string | boolean | number | null | Rep[] | { [key: string]: Rep };

export interface OracleEntry {
  readonly hex?: string;
  readonly value?: Rep;
  readonly unparsed?: number;
  readonly error?: string;
  readonly stage?: 'rep' | 'twisted' | 'result';
  readonly boxes?: Record<string, string>[];
}

interface Pending {
  resolve(reply: Record<string, unknown>): void;
  reject(error: Error): void;
}

export class Oracle {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: Pending[] = [];
  private stderr = '';
  private exited: Error | undefined;

  constructor(peer: TwistedPeer) {
    this.child = spawn(peer.python, [ORACLE_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'], env: peerEnv(peer) });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-4000);
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiter = this.pending.shift();
      if (waiter === undefined) return;
      try {
        waiter.resolve(JSON.parse(line) as Record<string, unknown>);
      } catch (error) {
        waiter.reject(error as Error);
      }
    });
    const fail = (error: Error) => {
      this.exited = error;
      for (const waiter of this.pending.splice(0)) waiter.reject(error);
    };
    this.child.on('error', fail);
    this.child.on('exit', (code, signal) => fail(new Error(`oracle exited (${code ?? signal}): ${this.stderr}`)));
  }

  request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.exited !== undefined) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin.write(JSON.stringify(message) + '\n');
    });
  }

  async batch(op: string, values: readonly unknown[], type?: Spec): Promise<OracleEntry[]> {
    const reply = await this.request(type === undefined ? { op, values } : { op, type, values });
    if (!Array.isArray(reply.results)) throw new Error(`oracle refused ${op}: ${String(reply.error)}`);
    return reply.results as OracleEntry[];
  }

  async close(): Promise<void> {
    if (this.exited !== undefined) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    await exited;
  }
}

/** Our argument type for a spec, so one table drives both sides. */
export function ampTypeOf(spec: Spec): AmpType<unknown, unknown> {
  if (typeof spec === 'string') return amp[spec] as AmpType<unknown, unknown>;
  if ('ListOf' in spec) return amp.ListOf(ampTypeOf(spec.ListOf)) as AmpType<unknown, unknown>;
  const schema = Object.fromEntries(
    spec.AmpList.map(([name, field, optional]) => [name, optional === true ? ampTypeOf(field).optional() : ampTypeOf(field)]),
  );
  return amp.AmpList(schema) as AmpType<unknown, unknown>;
}

function floatHex(value: number): string {
  // Python's NaNs differ only in sign and payload, which no AMP text carries.
  if (Number.isNaN(value)) return '7ff8000000000000';
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleBE(value);
  return bytes.toString('hex');
}

/** Our value as the oracle's JSON representation (NaN canonical). */
export function toRep(spec: Spec, value: unknown): Rep {
  switch (spec) {
    case 'Integer':
      return BigInt(value as bigint | number).toString();
    case 'String':
      return Buffer.from(value as Uint8Array).toString('hex');
    case 'Unicode':
    case 'Path':
      return value as string;
    case 'Boolean':
      return value as boolean;
    case 'Float':
      return floatHex(value as number);
    case 'Decimal': {
      const decimal = value as DecimalValue;
      if (decimal.kind === 'infinity') return [decimal.sign, '0', 'F'];
      if (decimal.kind === 'nan' || decimal.kind === 'snan') return [decimal.sign, decimal.digits, decimal.kind === 'nan' ? 'n' : 'N'];
      return [decimal.sign, decimal.digits, decimal.exponent];
    }
    case 'DateTime': {
      const t = value as DateTimeValue;
      return [t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond, t.offsetMinutes];
    }
  }
  if ('ListOf' in spec) return (value as unknown[]).map((element) => toRep(spec.ListOf, element));
  return (value as Record<string, unknown>[]).map((element) => {
    const out: Record<string, Rep> = {};
    for (const [name, field] of spec.AmpList) {
      const fieldValue = element[name];
      if (fieldValue !== undefined && fieldValue !== null) out[name] = toRep(field, fieldValue);
    }
    return out;
  });
}

/** The oracle's representation with every NaN made canonical, for comparisons. */
export function canonicalRep(spec: Spec, rep: Rep | undefined): Rep | undefined {
  if (rep === undefined) return undefined;
  if (spec === 'Float') return /^[7f]ff(?!0{13}$)/.test(rep as string) ? '7ff8000000000000' : rep;
  if (typeof spec === 'string') return rep;
  if ('ListOf' in spec) return (rep as Rep[]).map((element) => canonicalRep(spec.ListOf, element)!);
  return (rep as Record<string, Rep>[]).map((element) => {
    const out: Record<string, Rep> = {};
    for (const [name, field] of spec.AmpList) if (element[name] !== undefined) out[name] = canonicalRep(field, element[name])!;
    return out;
  });
}
