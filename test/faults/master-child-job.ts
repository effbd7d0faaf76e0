/** What master-child.ts is told to do (its one argument, as JSON), shared with the tests that start it. */
export interface MasterChildJob {
  readonly operation: 'uploadFile' | 'uploadDirectory' | 'downloadFile' | 'shell';
  readonly password: string;
  readonly masterBase: string;
  /** The worker-side path (workersrc, workerdest) or, for `shell`, the command line. */
  readonly worker: string;
  /** The master-side path, relative to masterBase. */
  readonly master: string;
  /** Listen here (a restarted master keeps its port, so the worker finds it again); 0 for any. */
  readonly port?: number;
}

export const WORKER_NAME = 'fw';
