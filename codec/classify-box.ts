import { ANSWER, type AmpBox, COMMAND, ERROR } from './box.js';
import { NoEmptyBoxesError } from './errors.js';

export type BoxKind = 'answer' | 'error' | 'command';

/** docs/amp-protocol.md §2.2: the first of `_answer`, `_error`, `_command` present decides; none is a protocol error. */
export function classifyBox(box: AmpBox): BoxKind {
  if (box.has(ANSWER)) return 'answer';
  if (box.has(ERROR)) return 'error';
  if (box.has(COMMAND)) return 'command';
  throw new NoEmptyBoxesError([...box.keys()]);
}
