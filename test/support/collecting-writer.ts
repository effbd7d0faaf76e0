import { FileWriterImpl } from '../../actors/master/connection-api.js';

/** A master-side FileWriter that keeps every block it is given, in memory (as a user's own writer may). */
export class CollectingWriter extends FileWriterImpl {
  readonly written: Buffer[] = [];

  async remoteWrite(data: Buffer): Promise<void> {
    this.written.push(data);
  }

  async remoteUtime(): Promise<void> {}

  async remoteUnpack(): Promise<void> {}

  async remoteClose(): Promise<void> {}
}
