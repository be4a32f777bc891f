// The pure parts of accounts: password hashes, sign-in throttling, what roles grant.
import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/accounts/passwords.js';
import { LoginThrottle } from '../../src/accounts/loginThrottle.js';
import { mayUseSite, permissionsOf, ROLE_PERMISSIONS } from '../../src/accounts/permissions.js';
import { digestMatches, digest } from '../../src/accounts/secrets.js';

describe('password hashes', () => {
  it('are salted scrypt: two hashes of one password differ, each verifies it and nothing else', async () => {
    const [a, b] = await Promise.all([hashPassword('correct horse battery'), hashPassword('correct horse battery')]);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
    expect(await verifyPassword('correct horse battery', 'plain$text')).toBe(false);
  });

  it('verify a composed and a decomposed accent alike (the same password typed on two keyboards)', async () => {
    const hash = await hashPassword('caf\u00e9 au lait!');
    expect(await verifyPassword('cafe\u0301 au lait!', hash)).toBe(true);
  });
});

describe('the sign-in throttle', () => {
  const limits = { perAccount: 3, perAddress: 5, windowMs: 60_000 };

  it('refuses an account after its failures, until the oldest leaves the window', () => {
    const throttle = new LoginThrottle(limits);
    for (let t = 0; t < 3; t++) {
      expect(throttle.retryAfter('a', 'ip1', t * 1000)).toBe(0);
      throttle.failed('a', `ip${t}`, t * 1000);
    }
    expect(throttle.retryAfter('a', 'ip9', 3000)).toBe(57); // the first failure (t=0) leaves at 60 s
    expect(throttle.retryAfter('a', 'ip9', 60_001)).toBe(0);
    expect(throttle.retryAfter('b', 'ip9', 3000)).toBe(0);
  });

  it('refuses an address after its failures over any accounts; a success clears the account, not the address', () => {
    const throttle = new LoginThrottle(limits);
    for (let i = 0; i < 5; i++) throttle.failed(`user${i}`, 'ip', i);
    expect(throttle.retryAfter('fresh', 'ip', 10)).toBeGreaterThan(0);
    expect(throttle.retryAfter('fresh', 'other-ip', 10)).toBe(0);
    throttle.failed('x', 'ip2', 0);
    throttle.failed('x', 'ip2', 0);
    throttle.succeeded('x');
    throttle.failed('x', 'ip2', 1);
    expect(throttle.retryAfter('x', 'ip3', 2)).toBe(0);
  });
});

describe('permissions', () => {
  it('grow from viewer to editor to admin', () => {
    expect(ROLE_PERMISSIONS.viewer).toEqual(['reports:read']);
    expect(ROLE_PERMISSIONS.editor).toEqual(['reports:read', 'funnels:write', 'leads:write']);
    for (const p of ROLE_PERMISSIONS.editor) expect(ROLE_PERMISSIONS.admin).toContain(p);
    expect(permissionsOf({ kind: 'owner' })).toContain('admin');
    expect(permissionsOf({ kind: 'key', id: 'k', name: 'k', scopes: ['export:read'], sites: null })).toEqual(['export:read']);
  });

  it('limit sites only where a list is given', () => {
    expect(mayUseSite({ kind: 'owner' }, 'any')).toBe(true);
    const user = { kind: 'user', id: 'u', email: 'e', role: 'viewer', session: 's' } as const;
    expect(mayUseSite({ ...user, sites: null }, 'any')).toBe(true);
    expect(mayUseSite({ ...user, sites: ['a'] }, 'a')).toBe(true);
    expect(mayUseSite({ ...user, sites: ['a'] }, 'b')).toBe(false);
  });
});

describe('secret digests', () => {
  it('match only the secret they were made from', () => {
    const stored = digest('s3cret');
    expect(digestMatches('s3cret', stored)).toBe(true);
    expect(digestMatches('s3creT', stored)).toBe(false);
    expect(digestMatches('s3cret', 'abc')).toBe(false);
  });
});
