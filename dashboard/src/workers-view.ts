/**
 * The workers table: one row per worker, kept after it detaches. The state cell follows the
 * worker's masterConnection machine live; the listener's detach gives its reason (the tooltip).
 * Clicking a row selects that machine's drawing.
 */
import { element, formatTime } from './dom.js';
import type { ConnectionState, WorkerSummary } from './wire.js';

/** What a person looks for first; the whole info dict is the cell's tooltip. */
const SHOWN_INFO = ['admin', 'host', 'os_pretty_name', 'system', 'version', 'numcpus', 'basedir'];

function describeInfo(info: WorkerSummary['info']): string {
  if (info === undefined) return '';
  return SHOWN_INFO.map((key): [string, unknown] => [key, info[key]])
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value.trim() : JSON.stringify(value)}`)
    .join(' · ');
}

export class WorkersView {
  private readonly rows = new Map<string, HTMLTableRowElement>();

  /** `selectMachine` gets the actor id of the clicked worker's connection machine. */
  constructor(
    private readonly body: HTMLTableSectionElement,
    private readonly selectMachine: (actorId: string) => void,
  ) {}

  /** The full list (the feed's first event): rows for workers not in it are marked detached. */
  replaceAll(workers: readonly WorkerSummary[], at: string): void {
    const names = new Set(workers.map((worker) => worker.name));
    for (const name of this.rows.keys()) {
      if (names.has(name)) continue;
      this.connectionState(name, 'detached');
      this.detached(name, 'not attached', at);
    }
    for (const worker of workers) this.attached(worker, at);
  }

  attached(worker: WorkerSummary, at: string): void {
    const row = element(
      'tr',
      { 'data-worker': worker.name, 'data-machine': worker.machine, class: 'linked', title: 'show its connection machine' },
      element('td', {}, worker.name),
      element('td', {}, worker.protocol),
      element('td', { class: `state state-${worker.state}` }, worker.state),
      element('td', { class: 'builders' }, worker.builders.join(', ')),
      element('td', { class: 'info', title: JSON.stringify(worker.info ?? {}, null, 1) }, describeInfo(worker.info)),
      element('td', {}, formatTime(worker.attachedAt)),
      element('td', { class: 'last-seen' }, formatTime(at)),
    );
    row.addEventListener('click', () => this.selectMachine(worker.machine));
    const existing = this.rows.get(worker.name);
    if (existing !== undefined) existing.replaceWith(row);
    else this.body.append(row);
    this.rows.set(worker.name, row);
  }

  /** The worker's connection machine is now in `state` (a masterConnection snapshot). */
  connectionState(name: string, state: ConnectionState, actorId?: string): void {
    const row = this.rows.get(name);
    // A snapshot of an older connection of a worker that has reattached since is not this row's.
    if (row === undefined || (actorId !== undefined && row.dataset['machine'] !== actorId)) return;
    const cell = row.querySelector('.state');
    if (cell === null) return;
    cell.className = `state state-${state}`;
    cell.textContent = state;
  }

  detached(name: string, reason: string, at: string): void {
    this.rows.get(name)?.querySelector('.state')?.setAttribute('title', reason);
    this.seen(name, at);
  }

  /** Any event naming the worker counts as hearing from it. */
  seen(name: string, at: string): void {
    const cell = this.rows.get(name)?.querySelector('.last-seen');
    if (cell !== null && cell !== undefined) cell.textContent = formatTime(at);
  }
}
