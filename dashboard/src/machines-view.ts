/**
 * Every actor the feed has reported, with its machine and current state; the selected one's
 * machine is drawn with its current state highlighted, live. The first actor is selected until
 * someone picks another. Only the most recently active actors stay listed.
 */
import { element } from './dom.js';
import { activeStateIds, layOut } from './machine-layout.js';
import { drawMachine, highlight } from './machine-svg.js';
import type { FeedEvent, MachineGraph } from './wire.js';

type Snapshot = Extract<FeedEvent, { type: 'machine-snapshot' }>;

const KEPT_ACTORS = 100;

export class MachinesView {
  private readonly actors = new Map<string, { item: HTMLLIElement; machine: string; state: string }>();
  private selected: string | undefined;
  /** Actor id → worker, for connection machines. */
  private readonly owners = new Map<string, string>();
  private drawing: SVGSVGElement | undefined;

  constructor(
    private readonly list: HTMLUListElement,
    private readonly canvas: HTMLElement,
    private readonly graphs: Readonly<Record<string, MachineGraph>>,
  ) {}

  snapshot(event: Snapshot): void {
    let actor = this.actors.get(event.actorId);
    if (actor === undefined) {
      const item = element('li', { 'data-actor': event.actorId });
      item.addEventListener('click', () => this.select(event.actorId));
      actor = { item, machine: event.machine, state: event.state };
      this.actors.set(event.actorId, actor);
      this.forgetOldest();
    }
    actor.state = event.state;
    if (event.worker !== undefined) this.owners.set(event.actorId, event.worker);
    this.label(event.actorId);
    // Most recently active first.
    this.list.prepend(actor.item);
    if (this.selected === undefined) this.select(event.actorId);
    else if (this.selected === event.actorId) this.refresh();
  }

  /** The actor is `worker`'s connection machine (its row in the workers table says so first). */
  owned(actorId: string, worker: string): void {
    this.owners.set(actorId, worker);
    this.label(actorId);
  }

  private label(actorId: string): void {
    const actor = this.actors.get(actorId);
    if (actor === undefined) return;
    const worker = this.owners.get(actorId);
    if (worker !== undefined) actor.item.dataset['worker'] = worker;
    actor.item.textContent = `${actor.machine}${worker === undefined ? '' : ` (${worker})`} ${actorId}: ${actor.state}`;
  }

  select(actorId: string): void {
    const actor = this.actors.get(actorId);
    if (actor === undefined) return;
    this.actors.get(this.selected ?? '')?.item.classList.remove('selected');
    actor.item.classList.add('selected');
    this.selected = actorId;
    const graph = this.graphs[actor.machine];
    this.canvas.replaceChildren();
    this.drawing = undefined;
    if (graph === undefined) {
      this.canvas.append(element('p', {}, `no graph for machine ${actor.machine}`));
      return;
    }
    this.drawing = drawMachine(layOut(graph), actor.machine);
    this.drawing.setAttribute('data-machine', actor.machine);
    this.canvas.append(element('p', { class: 'caption' }, `${actor.machine} ${actorId}: `, element('b', { class: 'current-state' }, actor.state)), this.drawing);
    this.refresh();
  }

  private refresh(): void {
    const actor = this.actors.get(this.selected ?? '');
    const graph = actor === undefined ? undefined : this.graphs[actor.machine];
    if (actor === undefined || graph === undefined || this.drawing === undefined) return;
    highlight(this.drawing, activeStateIds(graph, actor.state));
    const caption = this.canvas.querySelector('.current-state');
    if (caption !== null) caption.textContent = actor.state;
  }

  private forgetOldest(): void {
    while (this.actors.size > KEPT_ACTORS) {
      const oldest = [...this.actors.keys()].find((id) => id !== this.selected);
      if (oldest === undefined) return;
      this.actors.get(oldest)?.item.remove();
      this.actors.delete(oldest);
      this.owners.delete(oldest);
    }
  }
}
