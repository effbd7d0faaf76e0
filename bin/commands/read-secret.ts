/**
 * Where `ampstate worker create` gets the worker password: a file, standard input, or a prompt
 * on the terminal with echo off. Never an argument, which `ps` would show to every user.
 */
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';

/** One trailing newline is not part of the secret: editors and `echo` add one. */
function withoutTrailingNewline(value: string): string {
  return value.replace(/\r?\n$/, '');
}

export async function readSecretFile(path: string): Promise<string> {
  return withoutTrailingNewline(await readFile(path, 'utf8'));
}

export async function readSecretFromStdin(input: NodeJS.ReadStream = process.stdin): Promise<string> {
  return withoutTrailingNewline(await text(input));
}

/** Asks on the terminal without echoing what is typed; Ctrl-C or Ctrl-D abandon. */
export function promptSecret(question: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<string> {
  if (!input.isTTY) return Promise.reject(new Error('no terminal to ask for the password on: use --password-file or --password-stdin'));
  output.write(question);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (error === undefined) resolve(typed);
      else reject(error);
    };
    const onData = (chunk: string) => {
      for (const character of chunk) {
        if (character === '\r' || character === '\n') return finish();
        if (character === '\u0003' || character === '\u0004') return finish(new Error('no password given'));
        if (character === '\u007f' || character === '\b') typed = typed.slice(0, -1);
        else typed += character;
      }
    };
    input.on('data', onData);
  });
}
