/**
 * Node's Buffer has encoding-specific methods that skip the encoding-name dispatch of
 * `toString`/`write`. They are stable (ws and undici rely on them) but absent from @types/node.
 */
declare global {
  interface Buffer {
    latin1Slice(start: number, end: number): string;
    utf8Slice(start: number, end: number): string;
    latin1Write(text: string, offset: number): number;
    utf8Write(text: string, offset: number): number;
  }
}

export {};
