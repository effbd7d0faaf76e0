/** Buildbot's result codes (docs/master-worker-protocol.md §2.1), in its numbering, so logs and UIs that know them agree. */
export const SUCCESS = 0;
export const WARNINGS = 1;
export const FAILURE = 2;
export const SKIPPED = 3;
export const EXCEPTION = 4;
export const RETRY = 5;
export const CANCELLED = 6;

export type ResultCode = typeof SUCCESS | typeof WARNINGS | typeof FAILURE | typeof SKIPPED | typeof EXCEPTION | typeof RETRY | typeof CANCELLED;

export const RESULT_NAMES: Readonly<Record<ResultCode, string>> = {
  [SUCCESS]: 'success',
  [WARNINGS]: 'warnings',
  [FAILURE]: 'failure',
  [SKIPPED]: 'skipped',
  [EXCEPTION]: 'exception',
  [RETRY]: 'retry',
  [CANCELLED]: 'cancelled',
};

/** rc → result; `null` stands for "no rc was sent" (Python's None). */
export type DecodeRc = ReadonlyMap<number | null, ResultCode>;

/** Buildbot's default: only 0 succeeds. */
export const DEFAULT_DECODE_RC: DecodeRc = new Map([[0, SUCCESS]]);
/** Transfers succeed without an rc too. */
export const TRANSFER_DECODE_RC: DecodeRc = new Map<number | null, ResultCode>([
  [null, SUCCESS],
  [0, SUCCESS],
]);
