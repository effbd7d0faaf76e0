/** bench/amp's result: the JSON object `npm run bench -- amp --json` prints, and its tables and goals. */
import type { CpuPerCall, PairResult } from './measure.js';

type Compared = { ampstate: number; twisted: number; raw: number };

export interface AmpBenchResult extends Record<string, unknown> {
  sequential_calls_per_s: Compared;
  pipelined_calls_per_s: Compared & { ampstate_client_twisted_server: number };
  echo_MBps: Compared;
  /** Median over the repeats, microseconds of user + system CPU of both processes per call. */
  cpu_us_per_call: { sequential: Compared; pipelined: Compared; echo: Compared };
  /** Twisted 24.11 ↔ Twisted 24.11, when .cache/ has it (the `twisted` figures are 22.4's). */
  twisted_24_11?: { sequential_calls_per_s: number; pipelined_calls_per_s: number; echo_MBps: number; cpu_us_per_call?: CpuPerCall };
}

/** Every pair measured; `twisted` is Twisted 22.4 ↔ 22.4. */
export interface Pairs {
  readonly ampstate: PairResult;
  readonly raw: PairResult;
  readonly ampClientTwistedServer: PairResult;
  readonly twistedClientAmpServer: PairResult;
  readonly twisted: PairResult;
  readonly twisted24?: PairResult | undefined;
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

function columns(header: readonly string[], lines: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (cells: readonly string[]) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [format(header), widths.map((width) => '-'.repeat(width)).join('  '), ...lines.map(format)].join('\n');
}

function rateTable(rows: readonly (readonly [string, PairResult | undefined])[]): string {
  return columns(
    ['pair', 'sequential calls/s', 'pipelined calls/s', 'echo MB/s'],
    rows.map(([name, result]) =>
      result === undefined
        ? [name, '-', '-', '-']
        : [
            name,
            round(result.sequential_calls_per_s, 0).toLocaleString('en-US'),
            round(result.pipelined_calls_per_s, 0).toLocaleString('en-US'),
            round(result.echo_MBps, 1).toFixed(1),
          ],
    ),
  );
}

function cpuTable(rows: readonly (readonly [string, PairResult | undefined])[]): string {
  const phases = ['sequential', 'pipelined', 'echo'] as const;
  return columns(
    ['pair', 'sequential', 'pipelined', 'echo (60 KB)'],
    rows
      .filter(([, result]) => result !== undefined)
      .map(([name, result]) => [name, ...phases.map((phase) => (result!.cpu_us_per_call?.[phase] ?? NaN).toFixed(2))]),
  );
}

/** Prints the tables and the goals of issue #13; returns the JSON result. */
export function report(pairs: Pairs): AmpBenchResult {
  const { ampstate, raw, ampClientTwistedServer, twistedClientAmpServer, twisted, twisted24 } = pairs;
  const cpuOf = (phase: keyof CpuPerCall): Compared => ({
    ampstate: round(ampstate.cpu_us_per_call?.[phase] ?? NaN, 2),
    twisted: round(twisted.cpu_us_per_call?.[phase] ?? NaN, 2),
    raw: round(raw.cpu_us_per_call?.[phase] ?? NaN, 2),
  });
  const result: AmpBenchResult = {
    sequential_calls_per_s: {
      ampstate: round(ampstate.sequential_calls_per_s),
      twisted: round(twisted.sequential_calls_per_s),
      raw: round(raw.sequential_calls_per_s),
    },
    pipelined_calls_per_s: {
      ampstate: round(ampstate.pipelined_calls_per_s),
      twisted: round(twisted.pipelined_calls_per_s),
      raw: round(raw.pipelined_calls_per_s),
      ampstate_client_twisted_server: round(ampClientTwistedServer.pipelined_calls_per_s),
    },
    echo_MBps: {
      ampstate: round(ampstate.echo_MBps, 2),
      twisted: round(twisted.echo_MBps, 2),
      raw: round(raw.echo_MBps, 2),
    },
    cpu_us_per_call: { sequential: cpuOf('sequential'), pipelined: cpuOf('pipelined'), echo: cpuOf('echo') },
  };
  if (twisted24 !== undefined) {
    result.twisted_24_11 = {
      sequential_calls_per_s: round(twisted24.sequential_calls_per_s),
      pipelined_calls_per_s: round(twisted24.pipelined_calls_per_s),
      echo_MBps: round(twisted24.echo_MBps, 2),
      ...(twisted24.cpu_us_per_call === undefined ? {} : { cpu_us_per_call: twisted24.cpu_us_per_call }),
    };
  }

  const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN);
  const pipelinedX = ratio(ampstate.pipelined_calls_per_s, twisted.pipelined_calls_per_s);
  const pipelinedShare = ratio(ampstate.pipelined_calls_per_s, raw.pipelined_calls_per_s);
  const cpuX = ratio(result.cpu_us_per_call.pipelined.twisted, result.cpu_us_per_call.pipelined.ampstate);
  const sequentialShare = ratio(ampstate.sequential_calls_per_s, raw.sequential_calls_per_s);
  const echoShare = ratio(ampstate.echo_MBps, raw.echo_MBps);
  const goal = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const rows: (readonly [string, PairResult | undefined])[] = [
    ['ampstate ↔ ampstate', ampstate],
    ['ampstate client → Twisted server', ampClientTwistedServer],
    ['Twisted client → ampstate server', twistedClientAmpServer],
    ['Twisted 22.4 ↔ Twisted 22.4', twisted],
    ['Twisted 24.11 ↔ Twisted 24.11', twisted24],
    ['raw TCP, length prefix (limit)', raw],
  ];
  const versus24 =
    twisted24 === undefined
      ? []
      : [
          `pipelined ampstate / Twisted 24.11:   ${ratio(ampstate.pipelined_calls_per_s, twisted24.pipelined_calls_per_s).toFixed(1)}×`,
          `pipelined CPU, Twisted 24.11 / ours:  ${ratio(twisted24.cpu_us_per_call?.pipelined ?? NaN, result.cpu_us_per_call.pipelined.ampstate).toFixed(1)}×`,
        ];
  const lines = [
    '',
    'bench/amp — loopback TCP, Hello calls and 60 KB Echo values (best of the repeats)',
    '',
    rateTable(rows),
    '',
    'CPU per call, µs (user + system of both processes; median of the repeats)',
    '',
    cpuTable([rows[0]!, rows[3]!, rows[4]!, rows[5]!]),
    '',
    `pipelined ampstate / Twisted↔Twisted: ${pipelinedX.toFixed(1)}×   (goal ≥ 30×: ${goal(pipelinedX >= 30)})`,
    `pipelined ampstate / raw:             ${(pipelinedShare * 100).toFixed(0)} %  (goal ≥ 50 %: ${goal(pipelinedShare >= 0.5)})`,
    `pipelined CPU, Twisted / ampstate:    ${cpuX.toFixed(1)}×   (goal ≥ 30×: ${goal(cpuX >= 30)})`,
    `sequential ampstate / raw:            ${(sequentialShare * 100).toFixed(0)} %  (goal ≥ 70 %: ${goal(sequentialShare >= 0.7)})`,
    `echo ampstate / raw:                  ${(echoShare * 100).toFixed(0)} %  (goal ≥ 80 %: ${goal(echoShare >= 0.8)})`,
    ...versus24,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return result;
}
