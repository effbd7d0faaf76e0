/**
 * remoteSetBuilderList for a msgpack worker (docs/master-worker-protocol.md §1.2): the worker has no builders, so the master
 * makes their directories itself with ordinary worker commands: `listdir` of the basedir; if the
 * worker asks for it (`delete_leftover_dirs`), `stat` of each entry that is no builder's and one
 * `rmdir` of those that are directories; then one `mkdir` of the wanted directories that are
 * missing (`info` is always wanted, so it is never deleted). Every command must end with rc 0.
 */
import type { Logger } from '../../logger.js';
import type { BuilderList } from '../connection-api.js';
import { builderDirectory } from '../paths.js';
import { BuilderDirectoryError } from './errors.js';
import type { InternalCommandResult } from './internal-command.js';

export type RunInternalCommand = (commandName: string, args: Record<string, unknown>) => Promise<InternalCommandResult>;

export interface BuilderDirsContext {
  readonly basedir: string;
  /** `info.system`: `nt` joins Windows-style. */
  readonly system: string | undefined;
  /** `info.delete_leftover_dirs` (a bool, or int 0 from a default .tac). */
  readonly deleteLeftoverDirs: boolean;
  readonly workerName: string;
  readonly logger: Logger;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

async function runChecked(
  run: RunInternalCommand,
  context: BuilderDirsContext,
  commandName: string,
  args: Record<string, unknown>,
  expectedKeys: readonly string[],
  what: string,
): Promise<InternalCommandResult> {
  const result = await run(commandName, args);
  const fail = (detail: string) =>
    new BuilderDirectoryError(`worker '${context.workerName}' could not set up its builder directories: ${what}: ${detail}`);
  if (result.failure !== undefined) throw fail(result.failure);
  if (result.rc === undefined) throw fail("no 'rc' arrived");
  if (result.rc !== 0) throw fail(`rc ${result.rc}${result.text === '' ? '' : ` (${result.text.trim()})`}`);
  for (const key of expectedKeys) if (!result.updates.has(key)) throw fail(`key '${key}' is missing`);
  return result;
}

/** Makes the builder directories; resolves with every builder name, all now present. */
export async function makeBuilderDirectories(run: RunInternalCommand, context: BuilderDirsContext, builders: BuilderList): Promise<string[]> {
  const join = (name: string) => builderDirectory({ basedir: context.basedir, builddir: name, system: context.system });
  const wanted = new Set(builders.map(([, builddir]) => builddir));
  wanted.add('info');

  const listing = await runChecked(run, context, 'listdir', { path: context.basedir }, ['files'], 'listing the basedir');
  const files = listing.updates.get('files');
  const present = Array.isArray(files) ? files.filter((file): file is string => typeof file === 'string') : [];

  const missing = new Set(wanted);
  const leftovers: string[] = [];
  for (const name of present) {
    missing.delete(name);
    if (wanted.has(name) || !context.deleteLeftoverDirs) continue;
    const path = join(name);
    const status = await runChecked(run, context, 'stat', { path }, ['stat'], `stat of ${path}`);
    const mode = (status.updates.get('stat') as unknown[] | undefined)?.[0];
    // Only directories go: a file someone left in the basedir is none of our business.
    if (typeof mode === 'number' && (mode & S_IFMT) === S_IFDIR) leftovers.push(path);
  }
  if (leftovers.length > 0) {
    context.logger.info({ paths: leftovers }, 'deleting builder directories the master no longer uses');
    await runChecked(run, context, 'rmdir', { paths: leftovers }, [], 'removing leftover directories');
  }
  if (missing.size > 0) {
    const paths = [...missing].sort().map(join);
    await runChecked(run, context, 'mkdir', { paths }, [], 'making builder directories');
  }
  return builders.map(([name]) => name);
}
