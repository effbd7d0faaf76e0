/**
 * Runs jobs strictly one after another. A transfer's blocks may arrive pipelined (a window of them in
 * flight), but the file must see them in order and one at a time.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(job);
    // A failed job must not stop the ones queued after it; its caller gets the rejection.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
