// Users, sessions, API keys and shared links, over the store's account records. Secrets are
// kept only as hashes: passwords as scrypt, bearer secrets as SHA-256 digests (secrets.ts).
import type { Store } from '../store/types.js';
import { hashPassword, UNKNOWN_ACCOUNT_HASH, verifyPassword } from './passwords.js';
import { digest, digestMatches, newId, newSecret } from './secrets.js';
import type { KeyScope, Principal, Role } from './permissions.js';

/** A signed-in session lasts this long, then its cookie is refused. */
export const SESSION_TTL_MS = 7 * 86_400_000;
/** A shared link's password, once given, holds for this long in that browser. */
export const SHARE_UNLOCK_TTL_MS = 86_400_000;
/** An API key's last use is written at most this often (not one write per request). */
const LAST_USED_RESOLUTION_MS = 3_600_000;
const KEY_PREFIX = 'fbk_';

export interface User {
  id: string;
  email: string;
  role: Role;
  sites: string[] | null;
  passwordHash: string;
  createdAt: number;
  /** Sessions opened before this (a password change) are no longer valid. */
  sessionsFrom: number;
}

export interface ApiKey {
  id: string;
  name: string;
  scopes: KeyScope[];
  sites: string[] | null;
  secretDigest: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface Share {
  id: string;
  site: string;
  funnel: string;
  tokenDigest: string;
  passwordHash: string | null;
  createdAt: number;
}

/** A session is a user's sign-in, or a browser that gave a shared link's password. */
interface Session {
  user?: string;
  share?: string;
  createdAt: number;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** A shared link's record id: the first part of its token's digest, so the token finds it. */
function shareId(token: string): string {
  return digest(token).slice(0, 24);
}

export class Accounts {
  constructor(private readonly store: Store) {}

  // ---- Users

  async listUsers(): Promise<User[]> {
    return (await this.store.listRecords('user', Date.now())).map((r) => JSON.parse(r.body) as User);
  }

  async findUser(id: string): Promise<User | null> {
    const record = await this.store.getRecord('user', id, Date.now());
    return record ? (JSON.parse(record.body) as User) : null;
  }

  async findUserByEmail(email: string): Promise<User | null> {
    const wanted = normalizeEmail(email);
    return (await this.listUsers()).find((u) => u.email === wanted) ?? null;
  }

  /** Null when the e-mail has an account already. */
  async createUser(input: { email: string; password: string; role: Role; sites: string[] | null }): Promise<User | null> {
    if (await this.findUserByEmail(input.email)) return null;
    const now = Date.now();
    const user: User = {
      id: newId(), email: normalizeEmail(input.email), role: input.role, sites: input.sites,
      passwordHash: await hashPassword(input.password), createdAt: now, sessionsFrom: now,
    };
    await this.putUser(user);
    return user;
  }

  /** A new password ends the user's sessions; a new role or site list holds at their next request. */
  async updateUser(id: string, change: { role?: Role; sites?: string[] | null; password?: string }): Promise<User | null> {
    const user = await this.findUser(id);
    if (!user) return null;
    const updated: User = { ...user, role: change.role ?? user.role, sites: change.sites === undefined ? user.sites : change.sites };
    if (change.password !== undefined) {
      updated.passwordHash = await hashPassword(change.password);
      updated.sessionsFrom = Date.now();
    }
    await this.putUser(updated);
    return updated;
  }

  /** Their sessions end with them: a session is only as good as its user's record. */
  deleteUser(id: string): Promise<boolean> {
    return this.store.deleteRecord('user', id);
  }

  private putUser(user: User): Promise<void> {
    return this.store.putRecord({ kind: 'user', id: user.id, body: JSON.stringify(user), expiresAt: null });
  }

  // ---- Sessions

  /** The user whose e-mail and password these are, or null (as slowly whether or not the e-mail has an account). */
  async checkPassword(email: string, password: string): Promise<User | null> {
    const user = await this.findUserByEmail(email);
    const matches = await verifyPassword(password, user?.passwordHash ?? (await UNKNOWN_ACCOUNT_HASH));
    return user && matches ? user : null;
  }

  /** Opens a session for the user; returns the cookie's secret. */
  async openSession(user: User, now = Date.now()): Promise<string> {
    return this.putSession({ user: user.id, createdAt: now }, now + SESSION_TTL_MS);
  }

  async sessionPrincipal(token: string, now = Date.now()): Promise<Principal | null> {
    const session = await this.session(token, now);
    if (!session?.user) return null;
    const user = await this.findUser(session.user);
    if (!user || session.createdAt < user.sessionsFrom) return null;
    return { kind: 'user', id: user.id, email: user.email, role: user.role, sites: user.sites, session: token };
  }

  async endSession(token: string): Promise<void> {
    await this.store.deleteRecord('session', digest(token));
  }

  private async putSession(session: Session, expiresAt: number): Promise<string> {
    const token = newSecret();
    await this.store.putRecord({ kind: 'session', id: digest(token), body: JSON.stringify(session), expiresAt });
    return token;
  }

  private async session(token: string, now: number): Promise<Session | null> {
    const record = await this.store.getRecord('session', digest(token), now);
    return record ? (JSON.parse(record.body) as Session) : null;
  }

  // ---- API keys: `fbk_<id>_<secret>`; the id finds the record, the secret's digest checks it.

  async createKey(input: { name: string; scopes: KeyScope[]; sites: string[] | null }): Promise<{ key: ApiKey; secret: string }> {
    const secret = newSecret();
    const key: ApiKey = { id: newId(), ...input, secretDigest: digest(secret), createdAt: Date.now(), lastUsedAt: null };
    await this.putKey(key);
    return { key, secret: `${KEY_PREFIX}${key.id}_${secret}` };
  }

  async listKeys(): Promise<ApiKey[]> {
    return (await this.store.listRecords('key', Date.now())).map((r) => JSON.parse(r.body) as ApiKey);
  }

  deleteKey(id: string): Promise<boolean> {
    return this.store.deleteRecord('key', id);
  }

  static looksLikeKey(presented: string): boolean {
    return presented.startsWith(KEY_PREFIX);
  }

  async keyPrincipal(presented: string, now = Date.now()): Promise<Principal | null> {
    const match = /^fbk_([0-9a-f]+)_([A-Za-z0-9_-]+)$/.exec(presented);
    if (!match) return null;
    const record = await this.store.getRecord('key', match[1], now);
    if (!record) return null;
    const key = JSON.parse(record.body) as ApiKey;
    if (!digestMatches(match[2], key.secretDigest)) return null;
    if (key.lastUsedAt === null || now - key.lastUsedAt > LAST_USED_RESOLUTION_MS) await this.putKey({ ...key, lastUsedAt: now });
    return { kind: 'key', id: key.id, name: key.name, scopes: key.scopes, sites: key.sites };
  }

  private putKey(key: ApiKey): Promise<void> {
    return this.store.putRecord({ kind: 'key', id: key.id, body: JSON.stringify(key), expiresAt: null });
  }

  // ---- Shared links: `/share/<token>`, read-only, one funnel.

  async createShare(site: string, funnel: string, password: string | null): Promise<{ share: Share; token: string }> {
    const token = newSecret();
    const share: Share = {
      id: shareId(token), site, funnel, tokenDigest: digest(token),
      passwordHash: password === null ? null : await hashPassword(password), createdAt: Date.now(),
    };
    await this.store.putRecord({ kind: 'share', id: share.id, body: JSON.stringify(share), expiresAt: null });
    return { share, token };
  }

  async listShares(site: string): Promise<Share[]> {
    return (await this.store.listRecords('share', Date.now())).map((r) => JSON.parse(r.body) as Share).filter((s) => s.site === site);
  }

  async deleteShare(site: string, id: string): Promise<boolean> {
    const record = await this.store.getRecord('share', id, Date.now());
    if (!record || (JSON.parse(record.body) as Share).site !== site) return false;
    return this.store.deleteRecord('share', id);
  }

  async findShare(token: string): Promise<Share | null> {
    const record = await this.store.getRecord('share', shareId(token), Date.now());
    if (!record) return null;
    const share = JSON.parse(record.body) as Share;
    return digestMatches(token, share.tokenDigest) ? share : null;
  }

  /** The secret of a browser's unlock of a shared link, or null for a wrong password. */
  async unlockShare(share: Share, password: string): Promise<string | null> {
    if (share.passwordHash === null || !(await verifyPassword(password, share.passwordHash))) return null;
    return this.putSession({ share: share.id, createdAt: Date.now() }, Date.now() + SHARE_UNLOCK_TTL_MS);
  }

  /** Whether the share needs no password, or this browser's unlock secret is still good for it. */
  async shareOpen(share: Share, unlock: string | undefined): Promise<boolean> {
    if (share.passwordHash === null) return true;
    if (!unlock) return false;
    return (await this.session(unlock, Date.now()))?.share === share.id;
  }
}
