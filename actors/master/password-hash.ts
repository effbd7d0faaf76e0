/**
 * Worker passwords stored as scrypt hashes (node:crypto, a random salt each), so that a master's
 * configuration file never holds a password a reader could reuse. The text form is
 * `scrypt$N$r$p$salt$hash` (base64), self-describing so the cost can be raised later.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { AmpStateError } from '../../codec/errors.js';

/** OWASP's minimum for scrypt: about 50 ms and 16 MiB per check on a current machine. */
const COST = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

export class PasswordHashSyntaxError extends AmpStateError {
  override readonly code = 'MASTER_ERR_PASSWORD_HASH';
}

export class PasswordHash {
  private constructor(
    private readonly cost: { readonly N: number; readonly r: number; readonly p: number },
    private readonly salt: Buffer,
    private readonly hash: Buffer,
  ) {}

  /** Hashes a password with a fresh salt. */
  static create(password: string): PasswordHash {
    const salt = randomBytes(SALT_LENGTH);
    return new PasswordHash(COST, salt, derive(password, salt, COST, KEY_LENGTH));
  }

  /** Reads the text form written by {@link toString}. */
  static parse(text: string): PasswordHash {
    const parts = text.split('$');
    const [scheme, n, r, p, salt, hash] = parts;
    const cost = { N: Number(n), r: Number(r), p: Number(p) };
    if (parts.length !== 6 || scheme !== 'scrypt' || !Object.values(cost).every((value) => Number.isInteger(value) && value > 0) || !salt || !hash) {
      throw new PasswordHashSyntaxError('not a password hash of the form scrypt$N$r$p$salt$hash');
    }
    return new PasswordHash(cost, Buffer.from(salt, 'base64'), Buffer.from(hash, 'base64'));
  }

  /** Whether `password` is the one hashed; constant time in the password. */
  verify(password: string): boolean {
    return timingSafeEqual(derive(password, this.salt, this.cost, this.hash.length), this.hash);
  }

  toString(): string {
    return ['scrypt', this.cost.N, this.cost.r, this.cost.p, this.salt.toString('base64'), this.hash.toString('base64')].join('$');
  }

  toJSON(): string {
    return this.toString();
  }
}

function derive(password: string, salt: Buffer, cost: { readonly N: number; readonly r: number; readonly p: number }, length: number): Buffer {
  return scryptSync(password, salt, length, { N: cost.N, r: cost.r, p: cost.p, maxmem: 128 * cost.N * cost.r * 2 });
}

let unknownName: PasswordHash | undefined;

/** The hash an unknown name is checked against, so that it costs what a known one does. */
export function unknownNamePasswordHash(): PasswordHash {
  unknownName ??= PasswordHash.create(randomBytes(SALT_LENGTH).toString('base64'));
  return unknownName;
}
