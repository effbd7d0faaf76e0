/**
 * The master's Prometheus metrics, in a registry of its own (never prom-client's global one, which
 * a program embedding ampstate may use for itself), fed by the farm's events. Names are listed in
 * docs/master-service.md.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import { RESULT_NAMES } from '../results.js';
import type { FarmEvent, FarmEvents } from './farm-events.js';

export class FarmMetrics {
  readonly registry = new Registry();
  private readonly subscription: Subscription;
  private readonly workersConnected: Gauge;
  private readonly commands: Counter<'result'>;
  private readonly transferBytes: Counter<'direction'>;
  private readonly commandSeconds: Histogram<'command'>;
  private readonly refusals: Counter<'reason'>;
  /** The last reported byte count of each running transfer: the counter grows by the difference. */
  private readonly transferred = new Map<string, number>();

  constructor(private readonly events: FarmEvents) {
    const registers = [this.registry];
    this.workersConnected = new Gauge({
      name: 'ampstate_workers_connected',
      help: 'Workers attached to the master now',
      registers,
      collect: () => this.workersConnected.set(this.events.workers().length),
    });
    this.commands = new Counter({ name: 'ampstate_commands_total', help: 'Worker commands run, by result', labelNames: ['result'], registers });
    this.transferBytes = new Counter({
      name: 'ampstate_transfer_bytes_total',
      help: 'File bytes moved between master and workers, by direction',
      labelNames: ['direction'],
      registers,
    });
    this.commandSeconds = new Histogram({
      name: 'ampstate_command_duration_seconds',
      help: 'Time from a command start to its end, by worker command',
      labelNames: ['command'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800],
      registers,
    });
    this.refusals = new Counter({
      name: 'ampstate_refused_connections_total',
      help: 'Connections and logins the listeners refused, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.subscription = events.events$.subscribe((event) => this.count(event));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  close(): void {
    this.subscription.unsubscribe();
  }

  private count(event: FarmEvent): void {
    switch (event.type) {
      case 'command-finished':
        this.commands.inc({ result: RESULT_NAMES[event.results] });
        // A transfer's last progress comes after its command's end: it forgets the count.
        this.commandSeconds.observe({ command: event.command }, event.durationMs / 1000);
        break;
      case 'transfer-progress': {
        const previous = this.transferred.get(event.commandId) ?? 0;
        if (event.bytes > previous) this.transferBytes.inc({ direction: event.direction }, event.bytes - previous);
        if (event.done) this.transferred.delete(event.commandId);
        else this.transferred.set(event.commandId, Math.max(previous, event.bytes));
        break;
      }
      case 'refusal':
        this.refusals.inc({ reason: event.refusal.reason });
        break;
      default:
        break;
    }
  }
}
