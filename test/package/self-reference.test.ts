/**
 * Inside the repository, `ampstate` resolves to this package itself through its "exports" (the
 * examples rely on it): vitest (Vite's resolver) and Node load the built entry points from dist/.
 */
import { expect, it } from 'vitest';
import * as root from 'ampstate';
import * as machines from 'ampstate/machines';
import * as master from 'ampstate/master';
import * as trial from 'ampstate/trial';
import * as worker from 'ampstate/worker';

it('resolves every entry point by the package name', () => {
  expect(typeof root.defineCommand).toBe('function');
  expect(typeof root.AmpConnection).toBe('function');
  expect(typeof master.RemoteCommand).toBe('function');
  expect(typeof master.MsgpackListener).toBe('function');
  expect(typeof worker.WorkerSession).toBe('function');
  expect(typeof trial.TrialManager).toBe('function');
  expect(Object.keys(machines.allMachines)).toContain('framing');
});

it('keeps each area behind its own subpath', () => {
  expect(Object.keys(root)).not.toContain('RemoteCommand');
  expect(Object.keys(root)).not.toContain('TrialManager');
  expect(Object.keys(root)).not.toContain('allMachines');
});
