/** The workers table: one row per worker, kept after it detaches (state `detached`, the reason). */
import { element, formatTime } from './dom.js';
import type { WorkerSummary } from './wire.js';

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

  constructor(private readonly body: HTMLTableSectionElement) {}

  /** The full list (the feed's first event): rows for workers not in it are marked detached. */
  replaceAll(workers: readonly WorkerSummary[], at: string): void {
    const names = new Set(workers.map((worker) => worker.name));
    for (const name of this.rows.keys()) if (!names.has(name)) this.detached(name, 'not attached', at);
    for (const worker of workers) this.attached(worker, at);
  }

  attached(worker: WorkerSummary, at: string): void {
    const row = element(
      'tr',
      { 'data-worker': worker.name },
      element('td', {}, worker.name),
      element('td', {}, worker.protocol),
      element('td', { class: `state state-${worker.state}` }, worker.state),
      element('td', { class: 'info', title: JSON.stringify(worker.info ?? {}, null, 1) }, describeInfo(worker.info)),
      element('td', {}, formatTime(worker.attachedAt)),
      element('td', { class: 'last-seen' }, formatTime(at)),
    );
    const existing = this.rows.get(worker.name);
    if (existing !== undefined) existing.replaceWith(row);
    else this.body.append(row);
    this.rows.set(worker.name, row);
  }

  detached(name: string, reason: string, at: string): void {
    const row = this.rows.get(name);
    const state = row?.querySelector('.state');
    if (row === undefined || state === null || state === undefined) return;
    state.className = 'state state-detached';
    state.textContent = 'detached';
    state.setAttribute('title', reason);
    this.seen(name, at);
  }

  /** Any event naming the worker counts as hearing from it. */
  seen(name: string, at: string): void {
    const cell = this.rows.get(name)?.querySelector('.last-seen');
    if (cell !== null && cell !== undefined) cell.textContent = formatTime(at);
  }
}
