import { createActor, type Actor, type InspectionEvent, type Observer } from 'xstate';
import { ANSWER, ASK, COMMAND, ERROR, ERROR_CODE, ERROR_DESCRIPTION, type AmpBox } from '../../codec/box.js';
import { classifyBox } from '../../codec/classify-box.js';
import { type ArgumentsOf, type Command, type ResponseOf, UNKNOWN_ERROR_CODE, remoteErrorFromReply } from '../../codec/command.js';
import { encodeBox, type FrameSink } from '../../codec/encode-box.js';
import { CallCancelledError, CallTimeoutError, UnknownTagError } from '../../codec/errors.js';
import { requestsMachine } from '../../machines/requests.js';
import { BoundEffects } from '../bound-effects.js';
import { CallTable } from './call-table.js';
import type { DescriptorClaimer } from '../../codec/types/descriptor.js';
import type { DescriptorExchange } from './descriptor-exchange.js';
import { DecodedBox } from '../../codec/decoded-box.js';
import { parseTag, parseTagIn, ZERO_COPY_ABOVE, type Frame } from './frame.js';

export interface CallOptions {
  /** Fail the call with CallTimeoutError after this long; a late answer is then ignored. */
  readonly timeoutMs?: number;
  /** Fail the call with CallCancelledError when it fires; a late answer is then ignored, and a ByteStream stops. */
  readonly signal?: AbortSignal;
  /**
   * @internal Called with the decoded answer while its box is delivered, before the call resolves:
   * it leases every view of the answer that its caller keeps (codec/slab-leases.ts), and the box is
   * then disowned, so that its read slab can be read into again once the leases are released.
   */
  readonly leaseAnswer?: (answer: any) => void;
}

/** Acts on a reply before the next byte is parsed (StartTLS and protocol switches need this). */
export type ReplyHandler = (box: AmpBox, isError: boolean) => void;

/**
 * One outstanding call. A class, so every entry of the table has one shape; the settle functions
 * are the promise's own, captured without a closure of our own per call (see `captureSettlers`).
 */
class PendingCall {
  timer: NodeJS.Timeout | undefined = undefined;
  abandoned = false;
  stopListening: (() => void) | undefined = undefined;
  leaseAnswer: ((answer: any) => void) | undefined = undefined;

  constructor(
    readonly tag: number,
    readonly command: Command<any, any> | undefined,
    readonly resolve: (value: any) => void,
    readonly reject: (error: Error) => void,
    readonly onReply: ReplyHandler | undefined,
  ) {}
}

// Promise executors run synchronously: one shared executor hands the settle functions over through
// these two slots, which saves allocating an executor closure for every call.
let capturedResolve: (value: any) => void = () => {};
let capturedReject: (error: Error) => void = () => {};
function captureSettlers(resolve: (value: any) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

export interface DispatcherHost {
  /** Writes a request through the connection's outgoing gate. */
  sendRequest(frame: Frame): void;
  /** Where a request may be encoded in place now (the gate is open), or undefined. */
  requestSink(): FrameSink | undefined;
  /** A box that asks something of us: the responder runner's business. */
  onCommand(box: AmpBox): void;
  /** A reply for a tag we never sent: the connection must go. */
  onProtocolError(error: Error): void;
}

export interface DispatcherOptions {
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;
  readonly machine?: typeof requestsMachine | undefined;
  /** Where Descriptor values of answers are claimed (docs/amp-protocol.md §3.6). */
  readonly descriptors?: DescriptorExchange | undefined;
}

const RESOLVED_EMPTY: Promise<any> = Promise.resolve({});
const NON_EMPTY = { type: 'nonEmpty' } as const;
const EMPTY = { type: 'empty' } as const;

/** The requests machine is provided once; each actor finds its dispatcher (see BoundEffects). */
const dispatchers = new BoundEffects<BoxDispatcher>('requests');

const provideRequests = (logic: typeof requestsMachine) =>
  logic.provide({
    actions: {
      dropConnection: ({ self, event }) => {
        if (event.type === 'unknownTag') dispatchers.of(self).dropForUnknownTag(event.tag);
      },
      failAll: ({ self, context }) => dispatchers.of(self).failAll(context.closeReason!),
      refuseNewCalls: ({ self, context }) => dispatchers.of(self).refuseNewCalls(context.closeReason),
    },
  });

/**
 * Twisted's BoxDispatcher: tags, the table of outstanding calls, matching replies to them, and
 * failing them all when the connection ends. The table is a Map; the requests machine hears only
 * when it becomes non-empty or empty, and decides what a close or an unknown tag does.
 */
export class BoxDispatcher {
  readonly machine: Actor<typeof requestsMachine>;
  /** Keyed by the tag's number: answers are matched without building a string per answer. */
  private readonly outstanding = new CallTable<PendingCall>();
  private tagCounter = 0;
  /** Set only by the requests machine, on entering `closed`: new calls fail at once with it. */
  private refusedWith: Error | undefined;
  /** A check that the table is still empty is due once the event loop turns. */
  private emptyCheckDue = false;
  private readonly claimDescriptor: DescriptorClaimer | undefined;

  constructor(
    private readonly host: DispatcherHost,
    options: DispatcherOptions = {},
  ) {
    this.claimDescriptor = options.descriptors?.claim;
    const logic = dispatchers.provideOnce(options.machine ?? requestsMachine, provideRequests);
    this.machine = dispatchers.bind(createActor(logic, { inspect: options.inspect }), this).start();
  }

  get pendingCount(): number {
    return this.outstanding.size;
  }

  /** The reason calls now fail with, once the table has closed. */
  get closeReason(): Error | undefined {
    return this.refusedWith;
  }

  /** The next tag, as a number; Twisted's tags are its lower-case hex form. */
  nextTag(): number {
    return ++this.tagCounter;
  }

  /**
   * Like Twisted, argument errors (missing, undeclared, oversize) throw synchronously and consume a
   * tag; a fire-and-forget command resolves once written.
   */
  callRemote<C extends Command<any, any>>(command: C, args: ArgumentsOf<C>, options?: CallOptions): Promise<ResponseOf<C>> {
    const tag = this.nextTag();
    if (!command.requiresAnswer) {
      if (this.refusedWith === undefined) this.host.sendRequest(command.encodeRequest(undefined, args));
      return RESOLVED_EMPTY;
    }
    if (this.refusedWith !== undefined) return Promise.reject(this.refusedWith);
    // The number is written as hex straight into the frame: no tag string per call.
    const frame = command.encodeRequestParts(tag, args, ZERO_COPY_ABOVE, this.host.requestSink());
    if (frame !== undefined) this.host.sendRequest(frame);
    return this.track(tag, command, options);
  }

  callRemoteString(
    name: string,
    fields: Readonly<Record<string, string | Uint8Array>>,
    options: CallOptions & { readonly requiresAnswer?: boolean },
  ): Promise<AmpBox> {
    const tag = this.nextTag();
    const wantsAnswer = options.requiresAnswer ?? true;
    if (this.refusedWith !== undefined) return wantsAnswer ? Promise.reject(this.refusedWith) : RESOLVED_EMPTY;
    const box: Record<string, string | Uint8Array> = { ...fields, [COMMAND]: Buffer.from(name, 'latin1') };
    if (wantsAnswer) box[ASK] = tag.toString(16);
    this.host.sendRequest(encodeBox(box));
    return wantsAnswer ? this.track(tag, undefined, options) : RESOLVED_EMPTY;
  }

  /** Tracks a request already written under `tag`. */
  track(tag: number, command: Command<any, any> | undefined, options?: CallOptions, onReply?: ReplyHandler): Promise<any> {
    if (this.refusedWith !== undefined) return Promise.reject(this.refusedWith);
    const promise = new Promise<any>(captureSettlers);
    const pending = new PendingCall(tag, command, capturedResolve, capturedReject, onReply);
    const wasEmpty = this.outstanding.size === 0;
    this.outstanding.add(pending);
    // Only a table that was empty can make the machine leave `idle`: a busy pipeline costs no read of it.
    if (wasEmpty && this.machine.getSnapshot().value === 'idle') this.machine.send(NON_EMPTY);
    if (options !== undefined) this.watch(pending, options);
    return promise;
  }

  /** The per-call timeout and abort signal, for the calls that have them. */
  private watch(pending: PendingCall, options: CallOptions): void {
    const { command, reject } = pending;
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined) {
      pending.timer = setTimeout(() => {
        pending.abandoned = true;
        reject(new CallTimeoutError(command?.name ?? 'call', timeoutMs));
      }, timeoutMs);
      pending.timer.unref?.();
    }
    pending.leaseAnswer = options.leaseAnswer;
    const signal = options.signal;
    if (signal !== undefined) {
      const cancel = () => {
        pending.abandoned = true;
        if (pending.timer !== undefined) clearTimeout(pending.timer);
        reject(new CallCancelledError(command?.name ?? 'call', { cause: signal.reason }));
      };
      if (signal.aborted) cancel();
      signal.addEventListener('abort', cancel, { once: true });
      pending.stopListening = () => signal.removeEventListener('abort', cancel);
    }
  }

  /** Every parsed box comes here first (docs/amp-protocol.md §2.2). Throws on a box that is none of the three. */
  ampBoxReceived(box: AmpBox): void {
    const kind = classifyBox(box);
    if (kind === 'command') this.host.onCommand(box);
    else this.replyReceived(box, kind === 'error');
  }

  /** The connection has ended: the machine fails what is outstanding and refuses what comes. */
  connectionClosed(reason: Error): void {
    this.machine.send({ type: 'close', reason });
  }

  private replyReceived(box: AmpBox, isError: boolean): void {
    const tagKey = isError ? ERROR : ANSWER;
    // The decoder's boxes give the tag's bytes without a Buffer view (one allocation less per answer).
    const tag = box instanceof DecodedBox ? box.read(tagKey, parseTagIn)! : parseTag(box.get(tagKey)!);
    const pending = tag < 0 ? undefined : this.outstanding.take(tag);
    if (pending === undefined) {
      const tagBytes = box.get(tagKey)!;
      this.machine.send({ type: 'unknownTag', tag: tagBytes.latin1Slice(0, tagBytes.length) });
      return;
    }
    if (this.outstanding.size === 0 && !this.emptyCheckDue) {
      this.emptyCheckDue = true;
      setImmediate(this.checkEmpty);
    }
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.stopListening?.();
    if (pending.abandoned) return;
    if (pending.onReply !== undefined) {
      pending.onReply(box, isError);
      return;
    }
    if (isError) {
      pending.reject(replyError(pending.command, box));
      return;
    }
    if (pending.command === undefined) {
      pending.resolve(box);
      return;
    }
    try {
      const command = pending.command;
      const answer = command.decodeResponse(box, this.claimDescriptor);
      if (box instanceof DecodedBox) {
        // The caller gets only the answer: the box may go once the answer refers to none of its bytes.
        if (pending.leaseAnswer !== undefined) {
          pending.leaseAnswer(answer);
          box.disown();
        } else if (command.response.decodesToCopies) box.disown();
      }
      pending.resolve(answer);
    } catch (error) {
      pending.reject(error as Error);
    }
  }

  /**
   * The table counts as empty only if it still is once the event loop turns: a caller that makes
   * its next call as soon as the last one is answered (sequential calls) then costs the machine
   * no event at all.
   */
  private readonly checkEmpty = (): void => {
    this.emptyCheckDue = false;
    if (this.outstanding.size === 0 && this.machine.getSnapshot().value === 'awaiting') this.machine.send(EMPTY);
  };

  // The three below are the requests machine's actions: only it calls them.

  /** @internal */
  dropForUnknownTag(tag: string): void {
    this.host.onProtocolError(new UnknownTagError(tag));
  }

  /** @internal */
  refuseNewCalls(reason: Error | undefined): void {
    this.refusedWith = reason;
  }

  /** @internal */
  failAll(reason: Error): void {
    const pending = this.outstanding.takeAll();
    for (const call of pending) {
      if (call.timer !== undefined) clearTimeout(call.timer);
      call.stopListening?.();
      if (!call.abandoned) call.reject(reason);
    }
  }
}

/** The error an `_error` reply stands for, typed by the command's declared errors when it has them. */
export function replyError(command: Command<any, any> | undefined, box: AmpBox): Error {
  const code = box.get(ERROR_CODE)?.toString('latin1') ?? UNKNOWN_ERROR_CODE;
  // Invalid UTF-8 is replaced, as Twisted decodes descriptions with errors='replace'.
  const description = box.get(ERROR_DESCRIPTION)?.toString('utf8') ?? '';
  return command === undefined ? remoteErrorFromReply(code, description) : command.errorFromReply(code, description);
}
