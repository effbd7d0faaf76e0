/**
 * Command names as strings without a new string per call. A connection receives the same few names
 * over and over: comparing the bytes with the names seen lately is cheaper than slicing a fresh
 * string, and a string that is looked up again keeps its hash, which a fresh one must recompute
 * for the responder table's Map.
 */
const REMEMBERED = 4;

export class RecentNames {
  private readonly names: string[] = [];
  private next = 0;

  /** `chunk[start, end)` as latin1 text; an arrow function so that it can be passed as a reader. */
  readonly read = (chunk: Buffer, start: number, end: number): string => {
    const length = end - start;
    const names = this.names;
    for (let n = 0; n < names.length; n++) {
      const name = names[n]!;
      if (name.length !== length) continue;
      let i = 0;
      while (i < length && name.charCodeAt(i) === chunk[start + i]) i++;
      if (i === length) return name;
    }
    const name = chunk.latin1Slice(start, end);
    names[this.next] = name;
    this.next = (this.next + 1) % REMEMBERED;
    return name;
  };
}
