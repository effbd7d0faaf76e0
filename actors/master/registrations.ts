/**
 * The workers a listener accepts: name → password (and builders), the same model as the AMP
 * Listener's. Passwords are kept as SHA-256 digests and compared in constant time; an unknown
 * name costs as much as a wrong password and gets the same answer. A registration may instead
 * give a {@link PasswordHash} (scrypt), as a master's configuration file does; once one does,
 * unknown names are checked against a scrypt hash too, so they still cost the same.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { BuilderList } from './connection-api.js';
import { PasswordHash, unknownNamePasswordHash } from './password-hash.js';

export interface StoredRegistration {
  readonly builders: BuilderList | undefined;
}

interface Entry extends StoredRegistration {
  readonly hash: Buffer | PasswordHash;
}

function passwordHash(password: string): Buffer {
  return createHash('sha256').update(password, 'utf8').digest();
}

const UNKNOWN_NAME_HASH = passwordHash('\u0000no such worker\u0000');

export class Registrations {
  private readonly entries = new Map<string, Entry>();

  private hashedEntries = 0;

  /** Adds a worker or changes its password; builders stay as they were unless given. */
  set(name: string, password: string | PasswordHash, builders?: BuilderList): void {
    const previous = this.entries.get(name);
    this.delete(name);
    const hash = password instanceof PasswordHash ? password : passwordHash(password);
    if (hash instanceof PasswordHash) this.hashedEntries++;
    this.entries.set(name, { hash, builders: builders ?? previous?.builders });
  }

  delete(name: string): boolean {
    if (this.entries.get(name)?.hash instanceof PasswordHash) this.hashedEntries--;
    return this.entries.delete(name);
  }

  get(name: string): StoredRegistration | undefined {
    return this.entries.get(name);
  }

  /** The registration if the password is right, else undefined (unknown name or wrong password). */
  check(name: string, password: string): StoredRegistration | undefined {
    const entry = this.entries.get(name);
    const hash = entry?.hash ?? (this.hashedEntries > 0 ? unknownNamePasswordHash() : UNKNOWN_NAME_HASH);
    const matches = hash instanceof PasswordHash ? hash.verify(password) : timingSafeEqual(passwordHash(password), hash);
    return entry !== undefined && matches ? entry : undefined;
  }
}
