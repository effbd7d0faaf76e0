/**
 * A well-behaved client calling the fuzz server the whole time the fuzzer damages other
 * connections: a few callers in parallel, each making one call after another (sync, async and
 * 1000-byte echo), checking every answer. One bad peer must never cost a good one a call.
 */
import { randomBytes } from 'node:crypto';
import type { AmpConnection } from '../../actors/amp-connection.js';
import { connect } from '../../actors/connect.js';
import { Delay, Echo, Hello, greet } from '../fixtures/commands.js';

export interface GoodClientReport {
  readonly ok: number;
  readonly failed: number;
  /** The first failures, as messages. */
  readonly failures: readonly string[];
}

export class GoodClient {
  private ok = 0;
  private failed = 0;
  private readonly failures: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[] = [];

  private constructor(private readonly connection: AmpConnection) {}

  static async start(port: number, callers: number): Promise<GoodClient> {
    const client = new GoodClient(await connect(`tcp:127.0.0.1:${port}`));
    for (let caller = 0; caller < callers; caller++) client.loops.push(client.callLoop(caller));
    return client;
  }

  /** Lets the calls in flight finish, then stops calling; the connection stays open. */
  async stopCalling(): Promise<GoodClientReport> {
    this.running = false;
    await Promise.all(this.loops);
    return { ok: this.ok, failed: this.failed, failures: this.failures };
  }

  close(): Promise<Error> {
    this.connection.close();
    return this.connection.closed;
  }

  private async callLoop(caller: number): Promise<void> {
    for (let round = 0; this.running; round++) {
      try {
        await this.oneCall(caller, round);
        this.ok++;
      } catch (error) {
        this.failed++;
        if (this.failures.length < 10) this.failures.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
        // A closed connection fails every call at once: looping on would starve the event loop.
        if (this.connection.isClosed) return;
      }
    }
  }

  private async oneCall(caller: number, round: number): Promise<void> {
    const kind = round % 3;
    if (kind === 0) {
      // Below 666 and 777, the counts at which Hello's responder fails on purpose.
      const count = BigInt(round % 600);
      const name = Buffer.from(`caller-${caller}`);
      const { greeting } = await this.connection.callRemote(Hello, { count, name });
      if (greeting !== greet(count, name).greeting) throw new Error(`Hello answered ${JSON.stringify(greeting)}`);
    } else if (kind === 1) {
      const data = randomBytes(1000);
      const answer = await this.connection.callRemote(Echo, { data });
      if (!answer.data.equals(data)) throw new Error('Echo answered other bytes');
    } else {
      const { id } = await this.connection.callRemote(Delay, { ms: 0, id: round });
      if (id !== round) throw new Error(`Delay answered id ${id} for ${round}`);
    }
  }
}
