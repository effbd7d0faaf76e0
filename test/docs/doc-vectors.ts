/**
 * Reads the test vectors out of the protocol documents in docs/, so that a test can hold the codec
 * to exactly the bytes the documents show. Two block formats exist (docs/amp-protocol.md §8):
 *
 * - a fenced `vector` block of `name: value` lines, one box per block;
 * - a fenced `value-vectors <Type>` block of `value => wire` lines, one value per line.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BoxVector {
  /** Every `name: value` line of the block; `id` and `hex` are always present. */
  readonly [field: string]: string;
  readonly id: string;
  readonly hex: string;
}

export interface ValueVector {
  readonly type: string;
  readonly value: string;
  readonly wire: string;
}

const FENCED_BLOCK = /^```([^\n]*)\n([\s\S]*?)^```$/gm;

export function readDoc(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../../docs/${name}`, import.meta.url)), 'utf8');
}

function blocks(markdown: string, info: RegExp): { info: RegExpMatchArray; body: string }[] {
  const found: { info: RegExpMatchArray; body: string }[] = [];
  for (const match of markdown.matchAll(FENCED_BLOCK)) {
    const header = (match[1] ?? '').trim().match(info);
    if (header) found.push({ info: header, body: match[2] ?? '' });
  }
  return found;
}

export function boxVectors(markdown: string): BoxVector[] {
  return blocks(markdown, /^vector$/).map(({ body }) => {
    const fields: Record<string, string> = {};
    for (const line of body.split('\n')) {
      if (line.trim() === '') continue;
      const colon = line.indexOf(':');
      if (colon < 0) throw new Error(`vector line without a name: ${line}`);
      fields[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    if (fields.id === undefined || fields.hex === undefined) throw new Error(`vector without id or hex: ${body}`);
    return fields as BoxVector;
  });
}

export function valueVectors(markdown: string): ValueVector[] {
  return blocks(markdown, /^value-vectors (\S+)$/).flatMap(({ info, body }) =>
    body
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const [value, wire, ...rest] = line.split(' => ');
        if (value === undefined || wire === undefined || rest.length > 0) throw new Error(`bad value vector line: ${line}`);
        return { type: info[1]!, value, wire };
      }),
  );
}
