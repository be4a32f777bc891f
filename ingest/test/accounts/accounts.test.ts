// Accounts over real HTTP on a real SQLite file: users and their roles, sessions, API keys,
// shared links, the audit log, sign-in throttling, and no secret in clear in the database.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../../test-support/collector.js';
import { login, signIn, withSession } from './helpers.js';

const SITE = 'shop.example.com';
const OTHER = 'other.example.com';
const PASSWORD = 'correct horse battery';
const today = new Date().toISOString().slice(0, 10);
const FUNNEL = { name: 'Signup', window: '1h', steps: [{ name: 'Landing', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup' }] };
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

let collector: RunningCollector;

async function json<T>(reply: Response | Promise<Response>): Promise<T> {
  return (await (await reply).json()) as T;
}

async function createUser(email: string, role: string, sites?: string[]) {
  const reply = await collector.admin('/api/users', { body: { email, password: PASSWORD, role, ...(sites ? { sites } : {}) } });
  expect(reply.status).toBe(201);
  return json<{ id: string; email: string }>(reply);
}

beforeAll(async () => {
  collector = await startCollector();
  for (const domain of [SITE, OTHER]) expect((await collector.admin('/api/sites', { body: { domain } })).status).toBe(201);
  expect((await collector.admin(`/api/sites/${SITE}/funnels/signup`, { method: 'PUT', body: FUNNEL })).status).toBe(201);
  expect((await collector.admin(`/api/sites/${SITE}/funnels/secret`, { method: 'PUT', body: { ...FUNNEL, name: 'Secret' } })).status).toBe(201);
  const events = [
    ...['v1', 'v2', 'v3'].map((v, i) => ({ site: SITE, name: 'pageview', url: `https://${SITE}/`, visitor: v, id: `p${i}` })),
    { site: SITE, name: 'signup', url: `https://${SITE}/signup`, visitor: 'v1', id: 's1' },
  ];
  for (const event of events) {
    const reply = await fetch(`${collector.url}/api/event`, { method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': UA }, body: JSON.stringify(event) });
    expect(reply.status).toBe(202);
  }
  await collector.app.store.settled();
});

afterAll(async () => {
  await collector.close();
});

describe('users', () => {
  it('are refused with the field at fault: short password, unknown role, bad e-mail, an e-mail taken', async () => {
    const cases: [unknown, number, string][] = [
      [{ email: 'x@example.com', password: 'short', role: 'viewer' }, 400, 'password'],
      [{ email: 'x@example.com', password: PASSWORD, role: 'owner' }, 400, 'role'],
      [{ email: 'not-an-email', password: PASSWORD, role: 'viewer' }, 400, 'email'],
      [{ email: 'x@example.com', password: PASSWORD }, 400, 'role'],
      [{ email: 'x@example.com', password: PASSWORD, role: 'viewer', sites: {} }, 400, 'sites'],
      [{ email: 'x@example.com', password: PASSWORD, role: 'viewer', sites: [''] }, 400, 'sites.0'],
    ];
    for (const [body, status, field] of cases) {
      const reply = await collector.admin('/api/users', { body });
      expect(reply.status, JSON.stringify(body)).toBe(status);
      expect((await json<{ field: string }>(reply)).field).toBe(field);
    }
    await createUser('Taken@Example.com', 'viewer');
    const again = await collector.admin('/api/users', { body: { email: 'taken@example.com', password: PASSWORD, role: 'viewer' } });
    expect(again.status).toBe(409);
    expect((await json<{ email: string }[]>(collector.admin('/api/users'))).filter((u) => u.email === 'taken@example.com')).toHaveLength(1);
  });

  it('sign in with e-mail and password into an HttpOnly, SameSite session; /api/me says who they are', async () => {
    await createUser('viewer@example.com', 'viewer', [SITE]);
    const reply = await login(collector.url, 'VIEWER@example.com ', PASSWORD);
    expect(reply.status).toBe(204);
    const cookie = reply.headers.get('set-cookie')!;
    expect(cookie).toMatch(/fb_session=[A-Za-z0-9_-]{43}/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Max-Age=604800/);
    expect(cookie).not.toMatch(/Secure/i); // plain HTTP here; over HTTPS it is Secure (next test)
    const session = /fb_session=([^;]+)/.exec(cookie)![1];
    expect(await json(withSession(collector.url, session, '/api/me'))).toEqual({
      email: 'viewer@example.com', role: 'viewer', sites: [SITE], permissions: ['reports:read'],
    });
    expect((await login(collector.url, 'viewer@example.com', 'wrong password')).status).toBe(401);
    expect((await login(collector.url, 'nobody@example.com', PASSWORD)).status).toBe(401);
  });

  it('get a Secure cookie behind an HTTPS proxy', async () => {
    const proxied = await startCollector({ trustProxy: true });
    try {
      await proxied.admin('/api/users', { body: { email: 'p@example.com', password: PASSWORD, role: 'viewer' } });
      const reply = await fetch(`${proxied.url}/api/login`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' }, body: JSON.stringify({ email: 'p@example.com', password: PASSWORD }),
      });
      expect(reply.status).toBe(204);
      expect(reply.headers.get('set-cookie')).toMatch(/; Secure/i);
    } finally {
      await proxied.close();
    }
  });

  it('sign out, and the session is over on the server, not only in the browser', async () => {
    const session = await signIn(collector.url, 'viewer@example.com', PASSWORD);
    expect((await withSession(collector.url, session, '/api/me')).status).toBe(200);
    const out = await withSession(collector.url, session, '/api/logout', { method: 'POST' });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/fb_session=;/);
    expect((await withSession(collector.url, session, '/api/me')).status).toBe(401);
  });

  it('take a new role at their next request; a new password ends their sessions; deleted, they are out', async () => {
    const user = await createUser('changing@example.com', 'viewer', [SITE]);
    const session = await signIn(collector.url, 'changing@example.com', PASSWORD);
    const put = () => withSession(collector.url, session, `/api/sites/${SITE}/funnels/by-editor`, { method: 'PUT', body: FUNNEL });
    expect((await put()).status).toBe(403);
    expect((await collector.admin(`/api/users/${user.id}`, { method: 'PATCH', body: { role: 'editor' } })).status).toBe(200);
    expect((await put()).status).toBe(201);
    expect((await collector.admin(`/api/users/${user.id}`, { method: 'PATCH', body: { sites: [OTHER] } })).status).toBe(200);
    expect((await put()).status).toBe(403);

    expect((await collector.admin(`/api/users/${user.id}`, { method: 'PATCH', body: { password: 'a new long password' } })).status).toBe(200);
    expect((await withSession(collector.url, session, '/api/me')).status).toBe(401);
    expect((await login(collector.url, 'changing@example.com', PASSWORD)).status).toBe(401);
    const second = await signIn(collector.url, 'changing@example.com', 'a new long password');
    expect((await collector.admin(`/api/users/${user.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await withSession(collector.url, second, '/api/me')).status).toBe(401);
    expect((await collector.admin(`/api/users/${user.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('as an admin of some sites only, cannot add users, keys or sites (it would widen its own reach)', async () => {
    await createUser('site-admin@example.com', 'admin', [SITE]);
    const session = await signIn(collector.url, 'site-admin@example.com', PASSWORD);
    expect((await withSession(collector.url, session, '/api/users', { body: { email: 'y@example.com', password: PASSWORD, role: 'admin' } })).status).toBe(403);
    expect((await withSession(collector.url, session, '/api/keys', { body: { name: 'k', scopes: ['reports:read'] } })).status).toBe(403);
    expect((await withSession(collector.url, session, `/api/sites/${SITE}/shares`)).status).toBe(200);
    expect((await withSession(collector.url, session, `/api/sites/${OTHER}/shares`)).status).toBe(403);
  });
});

describe('API keys', () => {
  it('are shown once, work within their scopes and sites, and stop working when revoked', async () => {
    const created = await collector.admin('/api/keys', { body: { name: 'crm', scopes: ['leads:write', 'reports:read'], sites: [SITE] } });
    expect(created.status).toBe(201);
    const { id, key } = await json<{ id: string; key: string }>(created);
    expect(key).toMatch(/^fbk_[0-9a-f]+_[A-Za-z0-9_-]{43}$/);
    const listed = await json<Record<string, unknown>[]>(collector.admin('/api/keys'));
    const entry = listed.find((k) => k.id === id)!;
    expect(entry).toMatchObject({ name: 'crm', scopes: ['leads:write', 'reports:read'], sites: [SITE], last_used_at: null });
    expect(JSON.stringify(listed)).not.toContain(key.split('_')[2]);

    const asKey = (pathname: string, init: RequestInit = {}) => fetch(collector.url + pathname, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
    expect((await asKey(`/api/sites/${SITE}/funnels/signup/report?from=${today}&to=${today}`)).status).toBe(200);
    // The stage API takes a key: a lead the site does not know is a 404, not a 401 or 403.
    expect((await asKey(`/api/sites/${SITE}/leads/nobody/stage`, { method: 'POST', body: JSON.stringify({ stage: 'sal' }) })).status).toBe(404);
    expect((await asKey(`/api/sites/${SITE}/export?from=${today}&to=${today}`)).status).toBe(403);
    expect((await asKey(`/api/sites/${OTHER}/funnels`)).status).toBe(403);
    expect((await json<{ last_used_at: string | null }[]>(collector.admin('/api/keys'))).find((k) => k.last_used_at !== null)).toBeDefined();

    const exporter = await json<{ key: string }>(collector.admin('/api/keys', { body: { name: 'backup', scopes: ['export:read'] } }));
    const exported = await fetch(`${collector.url}/api/sites/${SITE}/export?from=${today}&to=${today}`, { headers: { authorization: `Bearer ${exporter.key}` } });
    expect(exported.status).toBe(200);
    expect((await exported.text()).trim().split('\n')).toHaveLength(4);

    expect((await collector.admin(`/api/keys/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await asKey(`/api/sites/${SITE}/funnels`)).status).toBe(401);
    // A key's public id with another secret is no key.
    expect((await fetch(`${collector.url}/api/sites/${SITE}/funnels`, { headers: { authorization: `Bearer ${exporter.key.slice(0, -4)}AAAA` } })).status).toBe(401);
  });

  it('are refused with the field at fault: an unknown scope, none, no name', async () => {
    for (const [body, field] of [
      [{ name: 'k', scopes: ['admin'] }, 'scopes.0'],
      [{ name: 'k', scopes: [] }, 'scopes'],
      [{ scopes: ['reports:read'] }, 'name'],
    ] as const) {
      const reply = await collector.admin('/api/keys', { body });
      expect(reply.status).toBe(400);
      expect((await json<{ field: string }>(reply)).field).toBe(field);
    }
  });
});

describe('shared links', () => {
  it('open one funnel’s report without signing in, and nothing else', async () => {
    const created = await collector.admin(`/api/sites/${SITE}/shares`, { body: { funnel: 'signup' } });
    expect(created.status).toBe(201);
    const { id, url } = await json<{ id: string; url: string }>(created);
    const token = url.split('/').pop()!;
    expect((await fetch(collector.url + url)).status).toBe(200); // the page

    const meta = await json<{ site: string; funnel: { id: string; name: string }; password_required: boolean }>(fetch(`${collector.url}/api/share/${token}`));
    expect(meta).toMatchObject({ site: SITE, funnel: { id: 'signup', name: 'Signup' }, password_required: false });
    const shared = await json<{ steps: { entered: number }[] }>(fetch(`${collector.url}/api/share/${token}/report?from=${today}&to=${today}`));
    const direct = await json<{ steps: { entered: number }[] }>(collector.admin(`/api/sites/${SITE}/funnels/signup/report?from=${today}&to=${today}`));
    expect(shared.steps.map((s) => s.entered)).toEqual([3, 1]);
    expect(shared.steps).toEqual(direct.steps);
    // The token reaches nothing of the management API.
    expect((await fetch(`${collector.url}/api/sites/${SITE}/funnels/secret`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);

    expect((await collector.admin(`/api/sites/${OTHER}/shares/${id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await collector.admin(`/api/sites/${SITE}/shares/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${collector.url}/api/share/${token}/report?from=${today}&to=${today}`)).status).toBe(404);
    expect((await fetch(`${collector.url}/api/share/${token}`)).status).toBe(404);
  });

  it('behind a password, show the report only once it is given, in that browser', async () => {
    expect((await collector.admin(`/api/sites/${SITE}/shares`, { body: { funnel: 'nope' } })).status).toBe(404);
    const { url } = await json<{ url: string }>(collector.admin(`/api/sites/${SITE}/shares`, { body: { funnel: 'signup', password: 'for the client only' } }));
    const token = url.split('/').pop()!;
    const report = (cookie?: string) => fetch(`${collector.url}/api/share/${token}/report?from=${today}&to=${today}`, { headers: cookie ? { cookie } : {} });
    expect((await report()).status).toBe(401);
    const unlock = (password: string) => fetch(`${collector.url}/api/share/${token}/unlock`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password }),
    });
    expect((await unlock('wrong password')).status).toBe(401);
    const right = await unlock('for the client only');
    expect(right.status).toBe(204);
    const cookie = right.headers.get('set-cookie')!;
    expect(cookie).toContain(`Path=/api/share/${token}`);
    expect(cookie).toMatch(/HttpOnly/i);
    const pair = cookie.split(';')[0];
    expect((await report(pair)).status).toBe(200);
    expect(await json<{ unlocked: boolean }>(fetch(`${collector.url}/api/share/${token}`, { headers: { cookie: pair } }))).toMatchObject({ unlocked: true });
    // The unlock is this link's only: it opens no other.
    const other = await json<{ url: string }>(collector.admin(`/api/sites/${SITE}/shares`, { body: { funnel: 'secret', password: 'another password' } }));
    expect((await fetch(`${collector.url}/api/share/${other.url.split('/').pop()}/report?from=${today}&to=${today}`, { headers: { cookie: pair } })).status).toBe(401);
  });
});

describe('the audit log', () => {
  it('says who changed what, newest first, to admins only', async () => {
    const editor = await createUser('auditor@example.com', 'editor', [SITE]);
    const session = await signIn(collector.url, 'auditor@example.com', PASSWORD);
    expect((await withSession(collector.url, session, `/api/sites/${SITE}/funnels/audited`, { method: 'PUT', body: FUNNEL })).status).toBe(201);
    expect((await withSession(collector.url, session, `/api/sites/${SITE}/funnels/audited`, { method: 'DELETE' })).status).toBe(204);
    // A refused change is not a change.
    expect((await withSession(collector.url, session, `/api/sites/${SITE}/funnels/audited`, { method: 'PUT', body: { name: 'bad' } })).status).toBe(400);
    expect((await collector.admin(`/api/sites/${SITE}/visitors/v3`, { method: 'DELETE' })).status).toBe(200);
    expect((await withSession(collector.url, session, '/api/audit')).status).toBe(403);

    const { entries } = await json<{ entries: { actor: string; action: string; site: string | null; target: string | null }[] }>(collector.admin('/api/audit?limit=100'));
    expect(entries.slice(0, 4).map(({ actor, action, site, target }) => ({ actor, action, site, target }))).toEqual([
      { actor: 'owner', action: 'visitor.erase', site: SITE, target: expect.stringMatching(/^sha256:[0-9a-f]{16}$/) },
      { actor: 'user:auditor@example.com', action: 'funnel.delete', site: SITE, target: 'audited' },
      { actor: 'user:auditor@example.com', action: 'funnel.save', site: SITE, target: 'audited' },
      { actor: 'user:auditor@example.com', action: 'session.login', site: null, target: null },
    ]);
    expect(entries[4]).toMatchObject({ actor: 'owner', action: 'user.create', target: editor.email });
    // The erased visitor's id is not in the log.
    expect(JSON.stringify(await json(collector.admin('/api/audit?limit=1000')))).not.toContain('"v3"');
  });

  it('pages back through time without losing an entry', async () => {
    const all = await json<{ entries: unknown[] }>(collector.admin('/api/audit?limit=1000'));
    const paged: unknown[] = [];
    let before: number | null = null;
    do {
      const page: { entries: unknown[]; next_before: number | null } = await json(collector.admin(`/api/audit?limit=3${before === null ? '' : `&before=${before}`}`));
      paged.push(...page.entries);
      before = page.next_before;
    } while (before !== null);
    expect(paged).toEqual(all.entries);
    expect((await collector.admin('/api/audit?limit=0')).status).toBe(400);
    expect((await collector.admin('/api/audit?before=yesterday')).status).toBe(400);
  });
});

describe('sign-in throttling', () => {
  it('refuses an account after 5 failures and an address after 20, with Retry-After; the owner token is never locked out', async () => {
    const throttled = await startCollector();
    try {
      for (const email of ['target@example.com', 'bystander@example.com']) {
        await throttled.admin('/api/users', { body: { email, password: PASSWORD, role: 'viewer' } });
      }
      for (let i = 0; i < 5; i++) expect((await login(throttled.url, 'target@example.com', `guess ${i}`)).status).toBe(401);
      const locked = await login(throttled.url, 'target@example.com', PASSWORD);
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800);
      // Another account from the same address still signs in.
      await signIn(throttled.url, 'bystander@example.com', PASSWORD);
      for (let i = 0; i < 15; i++) await login(throttled.url, `guess${i}@example.com`, 'guess');
      expect((await login(throttled.url, 'bystander@example.com', PASSWORD)).status).toBe(429);
      // The owner's token, and the dashboard signed in with it, go on working.
      expect((await throttled.admin('/api/me')).status).toBe(200);
      expect((await throttled.admin('/api/users')).status).toBe(200);
    } finally {
      await throttled.close();
    }
  });
});

describe('the database file and its WAL', () => {
  it('hold no password, key, session or link token in clear', async () => {
    const secrets: string[] = [PASSWORD, 'a new long password', 'for the client only'];
    const key = await json<{ key: string }>(collector.admin('/api/keys', { body: { name: 'scan', scopes: ['reports:read'] } }));
    secrets.push(key.key, key.key.split('_')[2]);
    const share = await json<{ url: string }>(collector.admin(`/api/sites/${SITE}/shares`, { body: { funnel: 'signup', password: 'share password 123' } }));
    secrets.push(share.url.split('/').pop()!, 'share password 123');
    secrets.push(await signIn(collector.url, 'viewer@example.com', PASSWORD));
    const files = [collector.dbFile, `${collector.dbFile}-wal`].filter((f) => fs.existsSync(f));
    expect(files.length).toBe(2);
    const bytes = Buffer.concat(files.map((f) => fs.readFileSync(f)));
    // Sanity: the scan does see what is stored (the e-mail is kept, the secrets are not).
    expect(bytes.includes('viewer@example.com')).toBe(true);
    for (const secret of secrets) expect(bytes.includes(secret), secret).toBe(false);
  });
});
