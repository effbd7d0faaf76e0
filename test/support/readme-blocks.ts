export interface CodeBlock {
  readonly language: string;
  readonly code: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The `<!-- test: … -->` comment right above the fence: how the block is tested. */
  readonly directive: string | undefined;
  /** Inside the generated machines section. */
  readonly generated: boolean;
}

/** Every fenced code block of a Markdown document, with the test directive above it. */
export function extractCodeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  let generated = false;
  for (let index = 0; index < lines.length; index++) {
    const text = lines[index]!;
    if (text.startsWith('<!-- machines:begin')) generated = true;
    if (text.startsWith('<!-- machines:end')) generated = false;
    const fence = /^```(\S*)\s*$/.exec(text);
    if (fence === null) continue;
    const end = lines.indexOf('```', index + 1);
    if (end < 0) throw new Error(`README.md:${index + 1}: unclosed code block`);
    const directive = /^<!-- test: (.*) -->$/.exec(lines[index - 1] ?? '')?.[1];
    blocks.push({ language: fence[1]!, code: lines.slice(index + 1, end).join('\n'), line: index + 1, directive, generated });
    index = end;
  }
  return blocks;
}
