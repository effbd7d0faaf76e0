/**
 * The one message a daemon sends the `start` that spawned it, over the IPC channel: started, or
 * failed and why. A service may add fields to its `started` report (the master its dashboard URL).
 */
export type ServiceStartReport = { readonly type: 'started'; readonly pid: number } | { readonly type: 'failed'; readonly message: string };

/** Tells a waiting `start` parent, if there is one; only the first call can reach it. */
export function reportToParent(message: ServiceStartReport): void {
  if (process.send === undefined || !process.connected) return;
  process.send(message);
  // The parent exits once told; an open channel would also keep this process's event loop alive.
  process.disconnect();
}
