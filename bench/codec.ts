/**
 * bench/codec: encode and decode throughput of the AMP codec on one core, no sockets.
 *
 *   small call   `_ask`, `_command` and three arguments (Integer, Unicode, String), ~80 bytes
 *   60 KB value  one String of 61440 bytes (`_ask`, `_command`, `data`)
 *
 * Each is measured as raw boxes (`encodeBox` / `BoxDecoder`) and typed (`Command.encodeRequest` /
 * `BoxDecoder` + `decodeArguments`), and next to a naive JSON-lines codec (JSON.stringify + '\n',
 * split + JSON.parse, base64 for bytes) measured in the same run, so the numbers have a yardstick
 * on whatever machine runs them. Decoding is fed 64 KiB chunks, as a socket delivers them, so large
 * boxes take the straddling-copy path. Target: ≥ 2M small boxes/s decoded.
 */
import { availableParallelism, loadavg } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { BoxDecoder, amp, defineCommand, encodeBox, type AmpBox } from '../codec/index.js';
import { formatCount, formatTable, measure, measureInterleaved, type MeasureOptions, type Throughput } from './support/measure.js';

const TIMING: MeasureOptions = { warmupMs: 300, rounds: 7, roundMs: 200 };
const SOCKET_CHUNK = 65_536;
const TARGET_SMALL_DECODE = 2_000_000;

const Store = defineCommand({
  name: 'Store',
  arguments: { count: amp.Integer, label: amp.Unicode, data: amp.String },
  response: { ok: amp.Boolean },
});
const Echo = defineCommand({ name: 'Echo', arguments: { data: amp.String }, response: { data: amp.String } });

/** Tags as a connection writes them: lower-case hex of a running counter. */
const TAGS = Array.from({ length: 4096 }, (_, i) => (i + 1).toString(16));

interface Scenario {
  readonly name: string;
  readonly command: typeof Store | typeof Echo;
  readonly args: Record<string, unknown>;
  /** The same call as the raw box a hand-written caller would build. */
  rawBox(tag: string): Record<string, string | Uint8Array>;
  /** The same call as a naive JSON message. */
  jsonMessage(tag: string): Record<string, unknown>;
  /** Boxes per decode batch: enough to span many socket chunks. */
  readonly batch: number;
  check(decoded: Record<string, unknown>): boolean;
}

const smallData = Buffer.from('0123456789abcdef');
const largeData = Buffer.alloc(61_440, 0x61);

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'small call',
    command: Store,
    args: { count: 1_234_567n, label: 'héllo wörld ✓', data: smallData },
    rawBox: (tag) => ({ _ask: tag, _command: 'Store', count: '1234567', label: 'héllo wörld ✓', data: smallData }),
    jsonMessage: (tag) => ({ _ask: tag, _command: 'Store', count: 1_234_567, label: 'héllo wörld ✓', data: smallData.toString('base64') }),
    batch: 8192,
    check: (decoded) => decoded.count === 1_234_567n || decoded.count === 1_234_567,
  },
  {
    name: '60 KB String',
    command: Echo,
    args: { data: largeData },
    rawBox: (tag) => ({ _ask: tag, _command: 'Echo', data: largeData }),
    jsonMessage: (tag) => ({ _ask: tag, _command: 'Echo', data: largeData.toString('base64') }),
    batch: 64,
    check: (decoded) => (decoded.data as Buffer).length === largeData.length,
  },
];

interface Rates {
  encode_boxes_per_s: number;
  encode_MBps: number;
  decode_boxes_per_s: number;
  decode_MBps: number;
  /** The same, per second of CPU time: closer to one free core when the machine is busy. */
  encode_boxes_per_cpu_s: number;
  decode_boxes_per_cpu_s: number;
}

interface ScenarioResult {
  wire_bytes: { amp: number; json_lines: number };
  raw_decode_alone_boxes_per_s: number;
  raw: Rates;
  typed: Rates;
  json_lines: Rates;
}

export interface CodecBenchResult extends Record<string, unknown> {
  small_call: ScenarioResult;
  large_string: ScenarioResult;
  typed_vs_json_lines: { small_encode: number; small_decode: number; large_encode: number; large_decode: number };
  target: { small_raw_decode_boxes_per_s: number; met: boolean; met_per_cpu_s: boolean };
  /** 1-minute load average when the run started, against the number of cores. */
  load: { average: number; cores: number };
}

/** Keeps results observable so the JIT cannot drop the work. */
let sink = 0;

function chunked(stream: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < stream.length; offset += SOCKET_CHUNK) chunks.push(stream.subarray(offset, offset + SOCKET_CHUNK));
  return chunks;
}

function rates(encode: Throughput, decode: Throughput, wireBytes: number): Rates {
  return {
    encode_boxes_per_s: Math.round(encode.perSecond),
    encode_MBps: round((encode.perSecond * wireBytes) / 1e6),
    decode_boxes_per_s: Math.round(decode.perSecond),
    decode_MBps: round((decode.perSecond * wireBytes) / 1e6),
    encode_boxes_per_cpu_s: Math.round(encode.perCpuSecond),
    decode_boxes_per_cpu_s: Math.round(decode.perCpuSecond),
  };
}

function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function benchScenario(scenario: Scenario): ScenarioResult {
  const { command, args, batch } = scenario;
  const encodeArgs = args as never;
  const ENCODE_BATCH = 256;

  const rawBoxes = TAGS.slice(0, ENCODE_BATCH).map((tag) => scenario.rawBox(tag));
  const jsonMessages = TAGS.slice(0, ENCODE_BATCH).map((tag) => scenario.jsonMessage(tag));

  const ampStream = Buffer.concat(Array.from({ length: batch }, (_, i) => command.encodeRequest(TAGS[i % TAGS.length]!, encodeArgs)));
  const ampChunks = chunked(ampStream);
  const ampWire = ampStream.length / batch;
  const jsonStream = Buffer.concat(Array.from({ length: batch }, (_, i) => Buffer.from(JSON.stringify(scenario.jsonMessage(TAGS[i % TAGS.length]!)) + '\n')));
  const jsonChunks = chunked(jsonStream);
  const jsonWire = jsonStream.length / batch;

  // One decoder per kind for the whole run, as a connection keeps one.
  let delivered = 0;
  const rawDecoder = new BoxDecoder({ onBox: () => delivered++, onError: (error) => { throw error; } });
  let checked = true;
  const typedDecoder = new BoxDecoder({
    onBox: (box: AmpBox) => {
      const decoded = command.decodeArguments(box) as Record<string, unknown>;
      delivered++;
      if (delivered % 4096 === 0) checked &&= scenario.check(decoded);
    },
    onError: (error) => { throw error; },
  });
  const textDecoder = new StringDecoder('utf8');
  let pending = '';

  const results = measureInterleaved(
    {
      rawEncode: () => {
        for (let i = 0; i < ENCODE_BATCH; i++) sink += encodeBox(rawBoxes[i]!).length;
        return ENCODE_BATCH;
      },
      typedEncode: () => {
        for (let i = 0; i < ENCODE_BATCH; i++) sink += command.encodeRequest(TAGS[i]!, encodeArgs).length;
        return ENCODE_BATCH;
      },
      jsonEncode: () => {
        for (let i = 0; i < ENCODE_BATCH; i++) sink += Buffer.from(JSON.stringify(jsonMessages[i]!) + '\n', 'utf8').length;
        return ENCODE_BATCH;
      },
      rawDecode: () => {
        for (const chunk of ampChunks) rawDecoder.push(chunk);
        return batch;
      },
      typedDecode: () => {
        for (const chunk of ampChunks) typedDecoder.push(chunk);
        return batch;
      },
      jsonDecode: () => {
        let count = 0;
        for (const chunk of jsonChunks) {
          const lines = (pending + textDecoder.write(chunk)).split('\n');
          pending = lines.pop()!;
          for (const line of lines) {
            const message = JSON.parse(line) as { data: string };
            sink += Buffer.from(message.data, 'base64').length;
            count++;
          }
        }
        return count;
      },
    },
    TIMING,
  );

  if (!checked || rawDecoder.hasFailed || typedDecoder.hasFailed) throw new Error(`bench/codec ${scenario.name}: decoded values are wrong`);
  // The target is about the decoder alone on one core: interleaved rounds also pay for the other
  // cases' garbage and JIT state, so the raw decoder is measured once more on its own.
  const isolated = measure(() => {
    for (const chunk of ampChunks) rawDecoder.push(chunk);
    return batch;
  }, { warmupMs: 500, rounds: 5, roundMs: 300 });
  return {
    raw_decode_alone_boxes_per_s: Math.round(isolated.perSecond),
    wire_bytes: { amp: round(ampWire), json_lines: round(jsonWire) },
    raw: rates(results.rawEncode, results.rawDecode, ampWire),
    typed: rates(results.typedEncode, results.typedDecode, ampWire),
    json_lines: rates(results.jsonEncode, results.jsonDecode, jsonWire),
  };
}

function rows(name: string, result: ScenarioResult): string[][] {
  const line = (label: string, r: Rates, wire: number) => [
    `${name}, ${label}`,
    String(Math.round(wire)),
    formatCount(r.encode_boxes_per_s),
    r.encode_MBps.toFixed(1),
    formatCount(r.decode_boxes_per_s),
    r.decode_MBps.toFixed(1),
    formatCount(r.encode_boxes_per_cpu_s),
    formatCount(r.decode_boxes_per_cpu_s),
  ];
  return [
    line('raw box', result.raw, result.wire_bytes.amp),
    line('typed', result.typed, result.wire_bytes.amp),
    line('JSON lines', result.json_lines, result.wire_bytes.json_lines),
  ];
}

export async function run(options: { json: boolean }): Promise<CodecBenchResult> {
  void options;
  const load = { average: round(loadavg()[0]!, 2), cores: availableParallelism() };
  const [small, large] = SCENARIOS.map((scenario) => {
    process.stderr.write(`[bench/codec] ${scenario.name}…\n`);
    return benchScenario(scenario);
  }) as [ScenarioResult, ScenarioResult];
  const ratio = (a: number, b: number) => round(a / b, 2);
  const result: CodecBenchResult = {
    small_call: small,
    large_string: large,
    typed_vs_json_lines: {
      small_encode: ratio(small.typed.encode_boxes_per_s, small.json_lines.encode_boxes_per_s),
      small_decode: ratio(small.typed.decode_boxes_per_s, small.json_lines.decode_boxes_per_s),
      large_encode: ratio(large.typed.encode_boxes_per_s, large.json_lines.encode_boxes_per_s),
      large_decode: ratio(large.typed.decode_boxes_per_s, large.json_lines.decode_boxes_per_s),
    },
    target: {
      small_raw_decode_boxes_per_s: TARGET_SMALL_DECODE,
      met: small.raw_decode_alone_boxes_per_s >= TARGET_SMALL_DECODE,
      met_per_cpu_s: small.raw.decode_boxes_per_cpu_s >= TARGET_SMALL_DECODE,
    },
    load,
  };
  const r = result.typed_vs_json_lines;
  const lines = [
    '',
    `bench/codec — one core, median of ${TIMING.rounds} interleaved rounds of ${TIMING.roundMs} ms after ${TIMING.warmupMs} ms warm-up; decode fed ${SOCKET_CHUNK / 1024} KiB chunks`,
    `load average ${load.average} on ${load.cores} cores at start${load.average > load.cores * 0.5 ? ' (busy machine: wall-clock rates are low, see per-CPU-second figures)' : ''}`,
    '',
    formatTable(['case', 'bytes/box', 'encode boxes/s', 'encode MB/s', 'decode boxes/s', 'decode MB/s', 'enc/CPU-s', 'dec/CPU-s'], [...rows('small call', small), ...rows('60 KB String', large)]),
    '',
    `typed AMP / naive JSON lines (boxes/s): small encode ${r.small_encode}×, small decode ${r.small_decode}×, 60 KB encode ${r.large_encode}×, 60 KB decode ${r.large_decode}×`,
    `target: raw decode ≥ ${formatCount(TARGET_SMALL_DECODE)} small boxes/s on one core: ${result.target.met ? 'met' : 'MISSED'} ` +
      `(${formatCount(small.raw_decode_alone_boxes_per_s)}/s measured alone; ${formatCount(small.raw.decode_boxes_per_s)}/s interleaved with the other cases, ${formatCount(small.raw.decode_boxes_per_cpu_s)} per CPU second)`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (sink === -1) process.stdout.write('\n');
  return result;
}
