/**
 * The workers a listener accepts: name → password (and builders), the same model as the AMP
 * Listener's. Passwords are kept as SHA-256 digests and compared in constant time; an unknown
 * name costs as much as a wrong password and gets the same answer.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { BuilderList } from './connection-api.js';

export interface StoredRegistration {
  readonly builders: BuilderList | undefined;
}

interface Entry extends StoredRegistration {
  readonly hash: Buffer;
}

function passwordHash(password: string): Buffer {
  return createHash('sha256').update(password, 'utf8').digest();
}

const UNKNOWN_NAME_HASH = passwordHash('\u0000no such worker\u0000');

export class Registrations {
  private readonly entries = new Map<string, Entry>();

  /** Adds a worker or changes its password; builders stay as they were unless given. */
  set(name: string, password: string, builders?: BuilderList): void {
    const previous = this.entries.get(name);
    this.entries.set(name, { hash: passwordHash(password), builders: builders ?? previous?.builders });
  }

  delete(name: string): boolean {
    return this.entries.delete(name);
  }

  get(name: string): StoredRegistration | undefined {
    return this.entries.get(name);
  }

  /** The registration if the password is right, else undefined (unknown name or wrong password). */
  check(name: string, password: string): StoredRegistration | undefined {
    const entry = this.entries.get(name);
    const matches = timingSafeEqual(passwordHash(password), entry?.hash ?? UNKNOWN_NAME_HASH);
    return entry !== undefined && matches ? entry : undefined;
  }
}
