/**
 * How a Buildbot worker displays an argv in the first header line: each element quoted so that a
 * POSIX shell would read it back (Python's `shlex.quote`), except that an empty element shows as `""`.
 */

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuoteArgument(argument: string): string {
  if (argument === '') return '""';
  if (SHELL_SAFE.test(argument)) return argument;
  return `'${argument.replaceAll("'", `'"'"'`)}'`;
}

export function shellQuoteCommand(argv: readonly string[]): string {
  return argv.map(shellQuoteArgument).join(' ');
}
