import type { Command } from 'commander';
import { allMachines } from '../../machines/index.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { toJson, toMermaid } from '../../machines/export.js';
import { renderMachinesSection, replaceMachinesSection } from '../../machines/readme-section.js';

/** `ampstate machines [--format mermaid|json] [NAME]`: every protocol machine, from its definition. */
export function registerMachinesCommand(program: Command): void {
  program
    .command('machines')
    .description('export the protocol state machines as Mermaid diagrams, or as JSON: the same graph plus the config (Stately editor import)')
    .argument('[name]', `one machine: ${Object.keys(allMachines).join(', ')}`)
    .option('--format <format>', 'mermaid or json', 'mermaid')
    .option('--write-readme <file>', 'regenerate the Machines section of a README in place')
    .action((name: string | undefined, options: { format: string; writeReadme?: string }) => {
      if (options.writeReadme !== undefined) {
        const readme = readFileSync(options.writeReadme, 'utf8');
        writeFileSync(options.writeReadme, replaceMachinesSection(readme, renderMachinesSection(allMachines)));
        return;
      }
      const names = name === undefined ? Object.keys(allMachines) : [name];
      const unknown = names.filter((each) => !(each in allMachines));
      if (unknown.length > 0) {
        process.stderr.write(`ampstate machines: unknown machine ${unknown.join(', ')}; known: ${Object.keys(allMachines).join(', ')}\n`);
        process.exitCode = 2;
        return;
      }
      if (options.format === 'json') {
        const out = Object.fromEntries(names.map((each) => [each, toJson(allMachines[each]!)]));
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      } else if (options.format === 'mermaid') {
        for (const each of names) process.stdout.write(`%% ${each}\n${toMermaid(allMachines[each]!)}\n`);
      } else {
        process.stderr.write(`ampstate machines: --format must be mermaid or json\n`);
        process.exitCode = 2;
      }
    });
}
