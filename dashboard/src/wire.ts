/** What the feed sends (actors/master/dashboard/wire.ts is the server side): dates as ISO strings. */
export type ConnectionState = 'attaching' | 'attached' | 'detaching' | 'detached';
export type OutputStream = 'stdout' | 'stderr' | 'header';

export interface WorkerSummary {
  readonly name: string;
  readonly protocol: string;
  readonly state: ConnectionState;
  readonly builders: readonly string[];
  /** The actor id of the worker's masterConnection machine. */
  readonly machine: string;
  readonly info: Readonly<Record<string, unknown>> | undefined;
  readonly attachedAt: string;
}

export type FeedEvent =
  | { readonly type: 'workers'; readonly at: string; readonly workers: readonly WorkerSummary[] }
  | { readonly type: 'worker-attached'; readonly at: string; readonly worker: WorkerSummary }
  | { readonly type: 'worker-detached'; readonly at: string; readonly name: string; readonly reason: string }
  | { readonly type: 'refusal'; readonly at: string; readonly reason: string; readonly address: string; readonly workerName?: string }
  | { readonly type: 'command-started'; readonly at: string; readonly commandId: string; readonly worker: string; readonly command: string; readonly summary: string }
  | { readonly type: 'command-output'; readonly at: string; readonly commandId: string; readonly worker: string; readonly stream: OutputStream; readonly text: string }
  | {
      readonly type: 'command-finished';
      readonly at: string;
      readonly commandId: string;
      readonly worker: string;
      readonly rc: number | undefined;
      readonly results: number;
      readonly durationMs: number;
      readonly failure?: string;
    }
  | {
      readonly type: 'transfer-progress';
      readonly at: string;
      readonly commandId: string;
      readonly worker: string;
      readonly direction: 'to-worker' | 'from-worker';
      readonly bytes: number;
      readonly done: boolean;
    }
  | { readonly type: 'machine-snapshot'; readonly at: string; readonly actorId: string; readonly machine: string; readonly state: string; readonly worker?: string };

/** machines/machine-graph.ts's MachineGraph, as JSON. */
export interface MachineGraph {
  readonly id: string;
  readonly initial: string | undefined;
  readonly states: readonly { readonly id: string; readonly key: string; readonly parent: string | undefined; readonly type: string; readonly initial: string | undefined }[];
  readonly edges: readonly { readonly source: string; readonly targets: readonly string[]; readonly label: string }[];
}
