import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allMachines } from '../../machines/index.js';
import { extractMachinesSection, renderMachinesSection } from '../../machines/readme-section.js';

describe('README machine diagrams', () => {
  it('match the machine definitions (run `npm run docs:machines` after changing a machine)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(extractMachinesSection(readme)).toBe(renderMachinesSection(allMachines));
  });

  it('list every machine', () => {
    const section = renderMachinesSection(allMachines);
    for (const name of Object.keys(allMachines)) expect(section).toContain(`### ${name}\n`);
  });
});
