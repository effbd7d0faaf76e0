/**
 * Running and finished commands, newest first, each with its output streaming in (stdout, stderr
 * and header in their own classes) and, once finished, its rc and elapsed time. Only the most
 * recent commands are kept so a long-lived page stays small.
 */
import { element } from './dom.js';
import type { FeedEvent } from './wire.js';

const KEPT_COMMANDS = 50;
/** Per command, the output shown is capped: the page is a view, not a log store. */
const KEPT_OUTPUT_CHARS = 64 * 1024;

type Started = Extract<FeedEvent, { type: 'command-started' }>;
type Output = Extract<FeedEvent, { type: 'command-output' }>;
type Finished = Extract<FeedEvent, { type: 'command-finished' }>;

const RESULT_NAMES = ['success', 'warnings', 'failure', 'skipped', 'exception', 'retry', 'cancelled'];

export class CommandsView {
  private readonly commands = new Map<string, { box: HTMLElement; output: HTMLPreElement; chars: number }>();

  constructor(private readonly container: HTMLElement) {}

  started(event: Started): void {
    const output = element('pre', { class: 'output' });
    const box = element(
      'section',
      { class: 'command running', 'data-command': event.commandId },
      element('header', {}, element('b', {}, event.worker), element('code', {}, event.summary), element('span', { class: 'result' }, 'running…')),
      output,
    );
    this.container.prepend(box);
    this.commands.set(event.commandId, { box, output, chars: 0 });
    while (this.commands.size > KEPT_COMMANDS) {
      const [oldest] = this.commands.keys();
      if (oldest === undefined) break;
      this.commands.get(oldest)?.box.remove();
      this.commands.delete(oldest);
    }
  }

  output(event: Output): void {
    const command = this.commands.get(event.commandId);
    if (command === undefined || command.chars >= KEPT_OUTPUT_CHARS) return;
    const text = event.text.slice(0, KEPT_OUTPUT_CHARS - command.chars);
    command.chars += text.length;
    const atBottom = command.output.scrollTop + command.output.clientHeight >= command.output.scrollHeight - 4;
    command.output.append(element('span', { class: event.stream }, text));
    if (atBottom) command.output.scrollTop = command.output.scrollHeight;
  }

  finished(event: Finished): void {
    const command = this.commands.get(event.commandId);
    if (command === undefined) return;
    command.box.classList.replace('running', 'finished');
    const result = command.box.querySelector('.result');
    if (result === null) return;
    const name = RESULT_NAMES[event.results] ?? `result ${event.results}`;
    result.className = `result ${event.results === 0 ? 'rc-ok' : 'rc-bad'}`;
    result.textContent = `${name}, rc ${event.rc ?? '–'}, ${(event.durationMs / 1000).toFixed(2)} s${event.failure !== undefined ? ` (${event.failure})` : ''}`;
  }
}
