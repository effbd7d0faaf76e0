/** Worker passwords as scrypt hashes: the master's config holds these, and logins check them. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PasswordHash, PasswordHashSyntaxError } from '../../actors/master/password-hash.js';
import { Registrations } from '../../actors/master/registrations.js';

describe('PasswordHash', () => {
  it('verifies the password it hashed, through its text form, and no other', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string(), (password, other) => {
        const hash = PasswordHash.parse(PasswordHash.create(password).toString());
        expect(hash.verify(password)).toBe(true);
        expect(hash.verify(other)).toBe(other === password);
      }),
      { numRuns: 15 },
    );
  });

  it('salts every hash', () => {
    expect(PasswordHash.create('same').toString()).not.toBe(PasswordHash.create('same').toString());
  });

  it('never holds the password in its text form', () => {
    expect(PasswordHash.create('hunter2-plain').toString()).not.toContain('hunter2-plain');
  });

  it('refuses text that is not a hash', () => {
    for (const text of ['', 'hunter2', 'scrypt$1$2$3$salt', 'bcrypt$16384$8$1$c2FsdA==$aGFzaA==', 'scrypt$x$8$1$c2FsdA==$aGFzaA==']) {
      expect(() => PasswordHash.parse(text), text).toThrow(PasswordHashSyntaxError);
    }
  });
});

describe('Registrations with hashed passwords', () => {
  it('admits the right password, refuses a wrong one and an unknown name', () => {
    const registrations = new Registrations();
    registrations.set('hashed', PasswordHash.create('right'));
    registrations.set('plain', 'also-right');
    expect(registrations.check('hashed', 'right')).toBeDefined();
    expect(registrations.check('hashed', 'wrong')).toBeUndefined();
    expect(registrations.check('plain', 'also-right')).toBeDefined();
    expect(registrations.check('nobody', 'right')).toBeUndefined();
    registrations.delete('hashed');
    expect(registrations.check('hashed', 'right')).toBeUndefined();
  });
});
