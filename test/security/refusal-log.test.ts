/**
 * A flood of refusals must not become a flood of log lines: a listener writes at most its budget of
 * warn lines a second and sums up the rest in one line, while `refusals$` still sees every one.
 */
import { firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { REFUSAL_LINES_PER_SECOND, RefusalLog } from '../../actors/refusals.js';
import { memoryLogger, WARN } from './support.js';

describe('RefusalLog', () => {
  it('writes one warn line per refusal within its budget, sums up the rest, and publishes all', async () => {
    const { logger, lines } = memoryLogger();
    const log = new RefusalLog(logger);
    const published = firstValueFrom(log.refusals$.pipe(toArray()));
    const flood = REFUSAL_LINES_PER_SECOND + 30;
    for (let i = 0; i < flood; i++) log.refuse({ reason: 'connection-cap', address: `10.0.0.1:${1000 + i}` }, 'connection refused');
    log.complete();
    expect(await published).toHaveLength(flood);
    const refusalLines = lines.filter((line) => line.reason === 'connection-cap');
    expect(refusalLines).toHaveLength(REFUSAL_LINES_PER_SECOND);
    expect(refusalLines.every((line) => line.level === WARN && line.address !== undefined && line.err === undefined)).toBe(true);
    expect(lines.at(-1)).toMatchObject({ level: WARN, suppressed: 30, msg: 'suppressed 30 refusal lines' });
  });
});
