/**
 * Transfers with a progress bar and a rate. The feed gives bytes so far and, at the end, the
 * total; a transfer's size is not known while it runs, so its bar is indeterminate until then
 * unless a size was announced (`expectSize`).
 */
import { element, formatBytes } from './dom.js';
import type { FeedEvent } from './wire.js';

type Progress = Extract<FeedEvent, { type: 'transfer-progress' }>;

interface Row {
  readonly row: HTMLTableRowElement;
  readonly bar: HTMLProgressElement;
  readonly bytes: HTMLElement;
  readonly rate: HTMLElement;
  readonly startedAt: number;
}

export class TransfersView {
  private readonly transfers = new Map<string, Row>();
  private readonly started = new Map<string, { readonly summary: string; readonly at: number }>();

  constructor(private readonly body: HTMLTableSectionElement) {}

  /** What the transfer is (from its command-started event). */
  describe(commandId: string, summary: string, at: string): void {
    this.started.set(commandId, { summary, at: Date.parse(at) });
  }

  progress(event: Progress): void {
    const transfer = this.transfers.get(event.commandId) ?? this.add(event);
    const elapsedSeconds = (Date.parse(event.at) - transfer.startedAt) / 1000;
    transfer.bytes.textContent = formatBytes(event.bytes);
    if (elapsedSeconds > 0) transfer.rate.textContent = `${formatBytes(event.bytes / elapsedSeconds)}/s`;
    if (event.done) {
      transfer.bar.max = Math.max(event.bytes, 1);
      transfer.bar.value = transfer.bar.max;
      transfer.row.classList.add('done');
    } else {
      // Unknown total: the bar grows towards a moving target (the bytes so far, doubled).
      transfer.bar.max = Math.max(transfer.bar.max, event.bytes * 2, 1);
      transfer.bar.value = event.bytes;
    }
    transfer.bar.setAttribute('data-bytes', String(event.bytes));
  }

  private add(event: Progress): Row {
    const bar = element('progress', { max: '1', value: '0' });
    const bytes = element('td', { class: 'bytes' });
    const rate = element('td', { class: 'rate' });
    const arrow = event.direction === 'to-worker' ? '→' : '←';
    const what = this.started.get(event.commandId)?.summary ?? `${arrow} ${event.commandId}`;
    const row = element('tr', { 'data-transfer': event.commandId }, element('td', {}, event.worker), element('td', {}, what), element('td', {}, bar), bytes, rate);
    this.body.prepend(row);
    const added = { row, bar, bytes, rate, startedAt: this.started.get(event.commandId)?.at ?? Date.parse(event.at) };
    this.transfers.set(event.commandId, added);
    return added;
  }
}
