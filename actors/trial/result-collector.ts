import type { AmpBox } from '../../codec/box.js';
import {
  AddSkip,
  AddSuccess,
  AddUnexpectedSuccess,
  TestWrite,
  inline,
  streamed,
  type TrialDialect,
} from '../../codec/protocols/trial-commands.js';
import type { Logger } from '../logger.js';
import { responders, type ResponderTable } from '../responders.js';
import { StreamRegistry } from '../amp/stream-registry.js';
import { DialectMismatchError } from './errors.js';
import type { TrialFrame, TrialResult } from './results.js';

export type DialectChoice = 'auto' | TrialDialect;

/**
 * The ≥22.10 streams (docs/trial-protocol.md §3.4) are the connection layer's (docs/amp-protocol.md §3.7): ids come
 * from one registry shared by every worker of the manager, and an `Add*` command consumes the streams it names.
 */
export { StreamRegistry };

export interface ResultCollectorOptions {
  /** Worker number, for messages. */
  readonly index: number;
  readonly dialect: DialectChoice;
  readonly streams: StreamRegistry;
  readonly logger: Logger;
  /** Each TestWrite text, with the test whose Run was in progress (if any). */
  readonly onLog?: (text: string, test: string | undefined) => void;
}

/**
 * The manager's answers to one worker (docs/trial-protocol.md §3.4): every command is answered (`success: True`, a
 * stream id, or an empty answer) and every result is attached to the Run in progress, whatever
 * `testName` it carries, as Twisted's LocalWorkerAMP does. Both dialects are accepted unless one is
 * forced; which one a worker speaks is told by its keys (`errorStreamId` vs `error`/`frames`) or a
 * `StreamOpen` (§7). A result that cannot be used (bad stream id, wrong dialect, malformed box)
 * still becomes an error of the current test instead of an error reply, because an error reply makes
 * a 22.4 worker drop its connection and die (§4.4).
 */
export class ResultCollector {
  /** The dialect this worker speaks, once a result told us (or as forced). */
  dialect: TrialDialect | undefined;
  private readonly options: ResultCollectorOptions;
  private readonly index: number;
  private current: { readonly test: string; readonly results: TrialResult[] } | undefined;

  constructor(options: ResultCollectorOptions) {
    this.options = options;
    this.index = options.index;
    this.dialect = options.dialect === 'auto' ? undefined : options.dialect;
  }

  /** The test of the Run in progress. */
  get test(): string | undefined {
    return this.current?.test;
  }

  /** A Run for `test` is being sent: results from now on belong to it. */
  begin(test: string): void {
    this.current = { test, results: [] };
  }

  /** The Run is over (answered or failed): its results, in arrival order. */
  end(): TrialResult[] {
    const results = this.current?.results ?? [];
    this.current = undefined;
    return results;
  }

  /** Attaches a result to the Run in progress. */
  private record(result: Omit<TrialResult, 'test' | 'origin'>): void {
    const current = this.current;
    if (current === undefined) {
      this.options.logger.warn({ worker: this.index, result }, 'trial worker reported a result outside any Run; ignored');
      return;
    }
    current.results.push({ ...result, test: current.test, origin: 'worker' });
  }

  /** A result command we could not use still becomes an error of the current test: never silence. */
  private recordProblem(testName: string, error: unknown): void {
    const text = error instanceof Error ? error.message : String(error);
    this.record({ outcome: 'error', reportedName: testName, errorClass: 'ampstate.trial.MalformedResult', message: text, frames: [] });
  }

  private noteDialect(dialect: TrialDialect, command: string): void {
    if (this.options.dialect !== 'auto' && this.options.dialect !== dialect) {
      throw new DialectMismatchError(`worker ${this.index} sent ${command} in the ${dialect} dialect; this manager was told to speak ${this.options.dialect}`);
    }
    this.dialect ??= dialect;
  }

  /** The manager's responders for every worker command, both dialects. */
  responders(): ResponderTable {
    const ok = { success: true } as const;
    const table = responders()
      .on(AddSuccess, ({ testName }) => {
        this.record({ outcome: 'success', reportedName: testName });
        return ok;
      })
      .on(AddSkip, ({ testName, reason }) => {
        this.record({ outcome: 'skip', reportedName: testName, reason });
        return ok;
      })
      .on(AddUnexpectedSuccess, ({ testName, todo }) => {
        this.record({ outcome: 'unexpectedSuccess', reportedName: testName, todo });
        return ok;
      })
      .on(TestWrite, ({ out }) => {
        this.options.onLog?.(out, this.current?.test);
        return ok;
      })
      .onRaw('AddError', (box) => this.onErrorLike('error', box))
      .onRaw('AddFailure', (box) => this.onErrorLike('failure', box))
      .onRaw('AddExpectedFailure', (box) => this.onErrorLike('expectedFailure', box));
    if (this.options.dialect !== '22.4') {
      // A 22.4 manager has no stream commands: forced to 22.4 we answer UNHANDLED as it does.
      table
        .on(streamed.StreamOpen, () => {
          this.noteDialect('22.10', 'StreamOpen');
          return { streamId: this.options.streams.open() };
        })
        .onRaw('StreamWrite', (box) => {
          try {
            const { streamId, data } = streamed.StreamWrite.decodeArguments(box);
            // Answered at once, as Twisted does: the Add* command that reads the stream comes after its last chunk.
            void this.options.streams.write(streamId, data);
          } catch (error) {
            this.recordProblem(this.current?.test ?? '?', error);
          }
          return {};
        });
    }
    return table;
  }

  /** AddError / AddFailure / AddExpectedFailure in either dialect, told apart by their keys (§7). */
  private onErrorLike(outcome: 'error' | 'failure' | 'expectedFailure', box: AmpBox): Record<string, string> {
    const name = box.get('testName')?.toString('utf8') ?? this.current?.test ?? '?';
    try {
      const isStreamed = box.has('errorStreamId') || box.has('failStreamId');
      this.noteDialect(isStreamed ? '22.10' : '22.4', `Add${outcome[0]!.toUpperCase()}${outcome.slice(1)}`);
      if (outcome === 'expectedFailure') {
        const args = isStreamed ? streamed.AddExpectedFailure.decodeArguments(box) : inline.AddExpectedFailure.decodeArguments(box);
        const message = 'errorStreamId' in args ? this.text(args.errorStreamId) : args.error;
        this.record({ outcome, reportedName: args.testName, message, todo: args.todo });
      } else if (outcome === 'failure') {
        const args = isStreamed ? streamed.AddFailure.decodeArguments(box) : inline.AddFailure.decodeArguments(box);
        const message = 'failStreamId' in args ? this.text(args.failStreamId) : args.fail;
        const frames = 'framesStreamId' in args ? this.frameList(args.framesStreamId) : args.frames;
        this.record({ outcome, reportedName: args.testName, message, errorClass: args.failClass, frames: toFrames(frames) });
      } else {
        const args = isStreamed ? streamed.AddError.decodeArguments(box) : inline.AddError.decodeArguments(box);
        const message = 'errorStreamId' in args ? this.text(args.errorStreamId) : args.error;
        const frames = 'framesStreamId' in args ? this.frameList(args.framesStreamId) : args.frames;
        this.record({ outcome, reportedName: args.testName, message, errorClass: args.errorClass, frames: toFrames(frames) });
      }
    } catch (error) {
      this.recordProblem(name, error);
    }
    // Always success: an error reply makes a 22.4 worker drop its connection and die (§4.4).
    return { success: 'True' };
  }

  /** Stream text: all chunks joined, then decoded (a chunk may end inside a character). */
  private text(streamId: number): string {
    return Buffer.concat(this.options.streams.take(streamId)).toString('utf8');
  }

  /** Frames stream: one list element per chunk. */
  private frameList(streamId: number): string[] {
    return this.options.streams.take(streamId).map((chunk) => chunk.toString('utf8'));
  }
}

/** Flat `[name, file, line, …]` → frames; a trailing partial triple is dropped, a bad line is 0. */
export function toFrames(flat: readonly string[]): TrialFrame[] {
  const frames: TrialFrame[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    const line = Number.parseInt(flat[i + 2]!, 10);
    frames.push({ name: flat[i]!, file: flat[i + 1]!, line: Number.isFinite(line) ? line : 0 });
  }
  return frames;
}
