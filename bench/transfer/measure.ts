/** One measured transfer: throughput and CPU, and for ampstate the memory of both ends. */
import type { Transfer } from '../../actors/master/transfers.js';
import { processCpuSeconds } from '../support/process-cpu.js';
import { collectGarbage, currentRss, peakRss, resetPeakRss, RssSampler } from './memory.js';
import { MB } from './environment.js';
import { profiled } from './profile.js';

export interface Measured {
  readonly seconds: number;
  readonly MBps: number;
  /** User + system CPU seconds of both ends. */
  readonly cpuSeconds: number;
}

export interface AmpMeasured extends Measured {
  /** The two ends' shares of `cpuSeconds`. */
  readonly masterCpuSeconds: number;
  readonly workerCpuSeconds: number;
  readonly masterRssBefore: number;
  readonly workerRssBefore: number;
  readonly masterPeakRss: number;
  readonly masterSampledRss: number;
  readonly workerPeakRss: number;
}

export function measured(bytes: number, seconds: number, cpuSeconds: number): Measured {
  return { seconds, MBps: bytes / MB / seconds, cpuSeconds };
}

/**
 * One ampstate transfer with its memory figures; throws unless it succeeded with every byte.
 * `name` names its CPU profile when profiling (profile.ts).
 */
export async function ampTransfer(name: string, start: () => Transfer, bytes: number, workerPid: number): Promise<AmpMeasured> {
  collectGarbage();
  resetPeakRss('self');
  resetPeakRss(workerPid);
  const masterRssBefore = currentRss('self');
  const workerRssBefore = currentRss(workerPid);
  const sampler = new RssSampler();
  const began = performance.now();
  const masterCpuBefore = processCpuSeconds('self');
  const workerCpuBefore = processCpuSeconds(workerPid);
  let result;
  try {
    result = await profiled(name, () => start().result);
  } finally {
    sampler.stop();
  }
  const seconds = (performance.now() - began) / 1000;
  const masterCpuSeconds = processCpuSeconds('self') - masterCpuBefore;
  const workerCpuSeconds = processCpuSeconds(workerPid) - workerCpuBefore;
  if (result.rc !== 0 || result.failure !== undefined || result.bytes !== bytes) {
    throw new Error(`transfer failed: rc=${String(result.rc)} bytes=${result.bytes}/${bytes} failure=${result.failure?.message ?? 'none'}`);
  }
  return {
    ...measured(bytes, seconds, masterCpuSeconds + workerCpuSeconds),
    masterCpuSeconds,
    workerCpuSeconds,
    masterRssBefore,
    workerRssBefore,
    masterPeakRss: Math.max(peakRss('self'), sampler.peak),
    masterSampledRss: sampler.peak,
    workerPeakRss: peakRss(workerPid),
  };
}

export function best<T extends Measured>(runs: readonly T[]): T {
  return runs.reduce((a, b) => (b.MBps > a.MBps ? b : a));
}
