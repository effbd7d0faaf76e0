/**
 * Python's `glob.glob(pattern, recursive=True)` on POSIX, which the glob command must reproduce
 * (docs/master-worker-protocol.md §3.5): `**` spans directories, names starting with `.` only match patterns that start
 * with `.`, broken symlinks are found, unreadable directories are silently skipped, and the
 * results are in directory order (unsorted). Node 20 has no `fs.glob`.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { fnmatchToRegExp } from './fnmatch.js';

const MAGIC = /[*?[]/;

function hasMagic(pattern: string): boolean {
  return MAGIC.test(pattern);
}

function isHidden(name: string): boolean {
  return name.startsWith('.');
}

function isRecursive(pattern: string): boolean {
  return pattern === '**';
}

/** `os.path.split`. */
function splitPath(path: string): [string, string] {
  const cut = path.lastIndexOf('/') + 1;
  let head = path.slice(0, cut);
  const tail = path.slice(cut);
  if (head !== '' && !/^\/+$/.test(head)) head = head.replace(/\/+$/, '');
  return [head, tail];
}

/** `os.path.join` of two components. */
function joinPath(directory: string, name: string): string {
  if (name.startsWith('/')) return name;
  if (directory === '' || directory.endsWith('/')) return directory + name;
  return `${directory}/${name}`;
}

/** glob's own join, which leaves a lone component alone. */
function joinComponents(directory: string, name: string): string {
  if (directory === '' || name === '') return directory || name;
  return joinPath(directory, name);
}

async function lexists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function listNames(directory: string, directoriesOnly: boolean): Promise<string[]> {
  try {
    const entries = await readdir(directory === '' ? '.' : directory, { withFileTypes: true });
    if (!directoriesOnly) return entries.map((entry) => entry.name);
    const names: string[] = [];
    for (const entry of entries) {
      // Like Python's DirEntry.is_dir(), a symlink to a directory counts as one.
      if (entry.isDirectory() || (entry.isSymbolicLink() && (await isDirectory(joinPath(directory, entry.name))))) {
        names.push(entry.name);
      }
    }
    return names;
  } catch {
    return [];
  }
}

async function* recursiveNames(directory: string, directoriesOnly: boolean): AsyncGenerator<string> {
  for (const name of await listNames(directory, directoriesOnly)) {
    if (isHidden(name)) continue;
    yield name;
    const path = directory === '' ? name : joinComponents(directory, name);
    for await (const below of recursiveNames(path, directoriesOnly)) yield joinComponents(name, below);
  }
}

type DirectoryGlobber = (directory: string, pattern: string, directoriesOnly: boolean) => AsyncIterable<string>;

async function* globLiteral(directory: string, name: string): AsyncGenerator<string> {
  if (name !== '') {
    if (await lexists(joinComponents(directory, name))) yield name;
  } else if (await isDirectory(directory)) {
    yield name;
  }
}

async function* globPattern(directory: string, pattern: string, directoriesOnly: boolean): AsyncGenerator<string> {
  const matcher = fnmatchToRegExp(pattern);
  for (const name of await listNames(directory, directoriesOnly)) {
    if (isHidden(name) && !isHidden(pattern)) continue;
    if (matcher.test(name)) yield name;
  }
}

async function* globRecursive(directory: string, _pattern: string, directoriesOnly: boolean): AsyncGenerator<string> {
  yield '';
  yield* recursiveNames(directory, directoriesOnly);
}

async function* globPaths(pattern: string, directoriesOnly: boolean): AsyncGenerator<string> {
  const [directory, basename] = splitPath(pattern);
  if (!hasMagic(pattern)) {
    if (basename !== '' ? await lexists(pattern) : await isDirectory(directory)) yield pattern;
    return;
  }
  if (directory === '') {
    yield* isRecursive(basename) ? globRecursive('', basename, directoriesOnly) : globPattern('', basename, directoriesOnly);
    return;
  }
  const directories: AsyncIterable<string> | string[] =
    directory !== pattern && hasMagic(directory) ? globPaths(directory, true) : [directory];
  let globInDirectory: DirectoryGlobber;
  if (!hasMagic(basename)) globInDirectory = globLiteral;
  else if (isRecursive(basename)) globInDirectory = globRecursive;
  else globInDirectory = globPattern;
  for await (const parent of directories) {
    for await (const name of globInDirectory(parent, basename, directoriesOnly)) yield joinPath(parent, name);
  }
}

export async function pythonGlob(pattern: string): Promise<string[]> {
  const results: string[] = [];
  for await (const path of globPaths(pattern, false)) results.push(path);
  // A leading `**` also matches "nothing", which Python leaves out of the results.
  if (pattern === '' || pattern.startsWith('**')) {
    if (results[0] === '') results.shift();
  }
  return results;
}
