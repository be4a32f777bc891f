// Bearer secrets (session cookies, API keys, shared-link tokens): random, shown once, stored as
// a SHA-256 digest. They carry 256 bits of randomness, so a fast digest is enough (unlike
// passwords); comparisons take constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A short random id (hex) for what is not itself a secret: a user, a key's public half. */
export function newId(): string {
  return randomBytes(9).toString('hex');
}

export function digest(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Compares digests of equal length in constant time, so the reply time leaks nothing of the secret. */
export function secretMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(Buffer.from(digest(presented), 'hex'), Buffer.from(digest(expected), 'hex'));
}

/** Compares a presented secret with a stored digest in constant time. */
export function digestMatches(presented: string, storedDigest: string): boolean {
  const stored = Buffer.from(storedDigest, 'hex');
  const computed = Buffer.from(digest(presented), 'hex');
  return stored.length === computed.length && timingSafeEqual(stored, computed);
}
