// Kills the trial worker that runs it (the test process's parent): the manager must report the
// test as an error ("worker died"), never lose it. Not part of the outcome fixtures.
import { test } from 'node:test';

test('kills its worker', () => {
  process.kill(process.ppid, 'SIGKILL');
});

test('survivor', () => {});
