/**
 * The trial duration cache (actors/trial/duration-cache.ts): where it lives, what a run adds to it,
 * smoothing, ageing and the size cap, atomic replacement, and a corrupt file costing one warn line.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  DURATION_CACHE_NAME,
  MAX_AGE_RUNS,
  MAX_ENTRIES,
  TrialDurations,
  durationCachePath,
  mergeRun,
  parseCache,
  type Measurement,
} from '../../actors/trial/duration-cache.js';
import { temporaryDirectory } from '../support/temp-directory.js';

function capturingLogger(): { logger: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  return { logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }), lines };
}

const WARN = 40;

describe('trial duration cache', () => {
  it('lives beside the temp directory', () => {
    expect(durationCachePath('/p')).toBe(`/p/${DURATION_CACHE_NAME}`);
    expect(durationCachePath('/p', 'build/_trial_temp')).toBe(`/p/build/${DURATION_CACHE_NAME}`);
    expect(durationCachePath('/p', '/elsewhere/tmp')).toBe(`/elsewhere/${DURATION_CACHE_NAME}`);
  });

  it('follows the manager option: default path, another path, off, or a given instance', () => {
    const { logger } = capturingLogger();
    expect(TrialDurations.open(undefined, '/p', undefined, logger)!.path).toBe(`/p/${DURATION_CACHE_NAME}`);
    expect(TrialDurations.open('d.json', '/p', undefined, logger)!.path).toBe('/p/d.json');
    expect(TrialDurations.open(false, '/p', undefined, logger)).toBeUndefined();
    const given = new TrialDurations('/p/x.json', logger);
    expect(TrialDurations.open(given, '/q', undefined, logger)).toBe(given);
  });

  it('records a run, then smooths the next measurement into it, leaving no temp file behind', async () => {
    const directory = temporaryDirectory('ampstate-durations-');
    const path = join(directory, DURATION_CACHE_NAME);
    const { logger, lines } = capturingLogger();
    const first = new TrialDurations(path, logger);
    expect(first.recordedMs.size).toBe(0);
    first.record('m.T.test_a', 100);
    first.record('m.T.test_b', 8);
    await first.save();

    const second = new TrialDurations(path, logger);
    expect(Object.fromEntries(second.recordedMs)).toEqual({ 'm.T.test_a': 100, 'm.T.test_b': 8 });
    expect(second.schedule(['m.T.test_b', 'm.T.test_a']).order).toEqual(['m.T.test_a', 'm.T.test_b']);
    second.record('m.T.test_a', 200);
    await second.save();

    const third = new TrialDurations(path, logger);
    expect(Object.fromEntries(third.recordedMs)).toEqual({ 'm.T.test_a': 150, 'm.T.test_b': 8 });
    expect(readdirSync(directory)).toEqual([DURATION_CACHE_NAME]);
    expect(lines.filter((line) => line.level >= WARN)).toEqual([]);
  });

  it('merges with the file as it is at save time, so two runs keep both their measurements', async () => {
    const path = join(temporaryDirectory('ampstate-durations-'), DURATION_CACHE_NAME);
    const { logger } = capturingLogger();
    const one = new TrialDurations(path, logger);
    const two = new TrialDurations(path, logger);
    one.record('a.test_one', 5);
    two.record('b.test_two', 7);
    await one.save();
    await two.save();
    expect(Object.fromEntries(new TrialDurations(path, logger).recordedMs)).toEqual({ 'a.test_one': 5, 'b.test_two': 7 });
  });

  it('ignores a corrupt cache with one warn line, then replaces it', async () => {
    const path = join(temporaryDirectory('ampstate-durations-'), DURATION_CACHE_NAME);
    writeFileSync(path, '{"format": "ampstate-trial-durations", "version": 1, "runs": 3, "tests": {"a": {"ms": "fast"');
    const { logger, lines } = capturingLogger();
    const durations = new TrialDurations(path, logger);
    expect(durations.recordedMs.size).toBe(0);
    expect(durations.schedule(['b', 'a']).order).toEqual(['b', 'a']);
    expect(lines.filter((line) => line.level >= WARN).map((line) => line.msg)).toEqual(['ignoring the trial duration cache: it is not one ampstate can read']);
    durations.record('a', 3);
    await durations.save();
    expect(lines.filter((line) => line.level >= WARN)).toHaveLength(1);
    expect(parseCache(readFileSync(path, 'utf8')).cache?.tests).toEqual({ a: { ms: 3, run: 1 } });
  });

  it('rejects files that are JSON but not a cache of this version', () => {
    expect(parseCache('[]').problem).toBe('not a duration cache');
    expect(parseCache('{"format": "ampstate-trial-durations", "version": 2}').problem).toMatch(/version 2/);
    expect(parseCache('{"format": "ampstate-trial-durations", "version": 1, "runs": 1, "tests": {"a": {"ms": -1, "run": 1}}}').problem).toMatch(/malformed entry/);
    expect(parseCache(undefined)).toEqual({ cache: undefined });
  });

  it("takes a worker's first Run (start-up included) only as an upper bound of a known test", () => {
    const first = mergeRun(undefined, new Map<string, Measurement | number>([['known', 100], ['first.new', { ms: 900, firstOnWorker: true }]]));
    expect(first.tests).toEqual({ known: { ms: 100, run: 1 } });
    const higher = mergeRun(first, new Map([['known', { ms: 5000, firstOnWorker: true }]]));
    expect(higher.tests.known).toEqual({ ms: 100, run: 2 });
    const lower = mergeRun(first, new Map([['known', { ms: 20, firstOnWorker: true }]]));
    expect(lower.tests.known).toEqual({ ms: 60, run: 2 });
  });

  it('drops tests not seen for MAX_AGE_RUNS runs', () => {
    let file = mergeRun(undefined, new Map([['old', 1], ['kept', 1]]));
    // Seen in run 1, then MAX_AGE_RUNS runs without it.
    for (let run = 1; run <= MAX_AGE_RUNS; run++) file = mergeRun(file, new Map([['kept', 1]]));
    expect(Object.keys(file.tests).sort()).toEqual(['kept']);
    file = mergeRun(undefined, new Map([['old', 1]]));
    for (let run = 1; run < MAX_AGE_RUNS; run++) file = mergeRun(file, new Map([['kept', 1]]));
    expect(Object.keys(file.tests).sort()).toEqual(['kept', 'old']);
  });

  it('keeps at most MAX_ENTRIES, the most recently seen', () => {
    const many = new Map(Array.from({ length: MAX_ENTRIES }, (_, i) => [`old.${i}`, 1] as const));
    const file = mergeRun(mergeRun(undefined, many), new Map([['new.one', 2]]));
    const ids = Object.keys(file.tests);
    expect(ids).toHaveLength(MAX_ENTRIES);
    expect(ids).toContain('new.one');
  });
});
