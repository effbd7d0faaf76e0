/**
 * Every protocol machine's graph, by xstate machine id (what a `machine-snapshot` event names):
 * the page draws an actor's machine from this without any hosted visualiser.
 */
import { allMachines } from '../../../machines/index.js';
import { machineGraph, type MachineGraph } from '../../../machines/machine-graph.js';

let cached: Readonly<Record<string, MachineGraph>> | undefined;

export function machineGraphsById(): Readonly<Record<string, MachineGraph>> {
  cached ??= Object.fromEntries(Object.values(allMachines).map((machine) => [machine.id, machineGraph(machine)]));
  return cached;
}
