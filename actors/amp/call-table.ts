/**
 * The outstanding calls of one connection, keyed by tag number. Our tags count up from 1, so the
 * calls in flight are nearly always a short run of consecutive numbers: a ring indexed by the tag's
 * low bits finds them with no hashing and no allocation per call. A call still outstanding when its
 * slot comes round again (a slow one among many fast ones) moves to a Map, so a ring never has to
 * grow with the span of tags, only with the number of calls in flight.
 */
export interface TaggedCall {
  readonly tag: number;
}

const INITIAL_SLOTS = 1024;

export class CallTable<C extends TaggedCall> {
  private ring: (C | undefined)[] = new Array<C | undefined>(INITIAL_SLOTS).fill(undefined);
  private mask = INITIAL_SLOTS - 1;
  private readonly displaced = new Map<number, C>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(call: C): void {
    const at = call.tag & this.mask;
    const occupant = this.ring[at];
    if (occupant !== undefined) {
      // Half the ring in flight: grow it, so that a busy pipeline does not spill into the Map.
      if (this.count * 2 > this.ring.length) {
        this.grow();
        this.add(call);
        return;
      }
      this.displaced.set(occupant.tag, occupant);
    }
    this.ring[at] = call;
    this.count++;
  }

  /** Removes and returns the call under `tag`, if there is one. */
  take(tag: number): C | undefined {
    const at = tag & this.mask;
    const call = this.ring[at];
    if (call !== undefined && call.tag === tag) {
      this.ring[at] = undefined;
      this.count--;
      return call;
    }
    if (this.displaced.size === 0) return undefined;
    const moved = this.displaced.get(tag);
    if (moved !== undefined) {
      this.displaced.delete(tag);
      this.count--;
    }
    return moved;
  }

  /** Empties the table, returning what was in it in the order the calls were made. */
  takeAll(): C[] {
    const calls: C[] = [...this.displaced.values()];
    for (const call of this.ring) if (call !== undefined) calls.push(call);
    this.ring.fill(undefined);
    this.displaced.clear();
    this.count = 0;
    return calls.sort((a, b) => a.tag - b.tag);
  }

  private grow(): void {
    const calls = this.ring.filter((call): call is C => call !== undefined);
    this.ring = new Array<C | undefined>(this.ring.length * 2).fill(undefined);
    this.mask = this.ring.length - 1;
    // Displaced calls stay where they are: they are the slow ones, and rarely many.
    for (const call of calls) this.ring[call.tag & this.mask] = call;
  }
}
