// Access: the whole route table, walked with every kind of credential, against a table of rules
// kept here (a new route without a rule here fails); cross-origin writes with a cookie; one
// site's data never under another; CORS admits only a site's own origins.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../test-support/collector.js';
import { SESSION_TTL_MS } from '../src/accounts/accounts.js';
import { ROLE_PERMISSIONS, type Permission } from '../src/accounts/permissions.js';
import { signIn, withSession } from './accounts/helpers.js';

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const today = new Date().toISOString().slice(0, 10);
const A = 'a.example.com';
const B = 'b.example.com';

type Rule = 'public' | 'shared-link' | 'signed-by-crm' | 'signed-in' | Permission;

/** Who may call each route (CONTRACT.md, "Accounts, keys and shared links"), written out independently of the routes' own config. */
const RULES: Record<string, Rule> = {
  'POST /api/event': 'public',
  'GET /f.js': 'public',
  'GET /funnelbeam.mjs': 'public',
  'GET /demo/*': 'public',
  'GET /': 'public',
  'GET /share/:token': 'public',
  'GET /dashboard.js': 'public',
  'GET /dashboard.css': 'public',
  'GET /healthz': 'public',
  'POST /api/login': 'public',
  'GET /api/share/:token': 'shared-link',
  'POST /api/share/:token/unlock': 'shared-link',
  'GET /api/share/:token/report': 'shared-link',
  'POST /api/logout': 'signed-in',
  'GET /api/me': 'signed-in',
  'GET /api/sites': 'signed-in',
  'GET /api/users': 'admin',
  'POST /api/users': 'admin',
  'PATCH /api/users/:id': 'admin',
  'DELETE /api/users/:id': 'admin',
  'GET /api/keys': 'admin',
  'POST /api/keys': 'admin',
  'DELETE /api/keys/:id': 'admin',
  'GET /api/audit': 'admin',
  'POST /api/sites': 'admin',
  'PATCH /api/sites/:site': 'admin',
  'GET /api/sites/:site/shares': 'admin',
  'POST /api/sites/:site/shares': 'admin',
  'DELETE /api/sites/:site/shares/:id': 'admin',
  'POST /api/sites/:site/import': 'admin',
  'GET /api/sites/:site/webhook': 'admin',
  'PUT /api/sites/:site/webhook': 'admin',
  'DELETE /api/sites/:site/webhook': 'admin',
  'GET /api/sites/:site': 'reports:read',
  'GET /api/sites/:site/stats': 'reports:read',
  'GET /api/sites/:site/funnels': 'reports:read',
  'GET /api/sites/:site/funnels/:id': 'reports:read',
  'GET /api/sites/:site/funnels/:id/report': 'reports:read',
  'GET /api/sites/:site/funnels/:id/people': 'reports:read',
  'GET /api/sites/:site/funnels/:id/correlation': 'reports:read',
  'GET /api/sites/:site/visitors/:unit/events': 'reports:read',
  'POST /api/sites/:site/funnels/preview': 'reports:read',
  'GET /api/sites/:site/leads': 'reports:read',
  'GET /api/sites/:site/leads/:lead': 'reports:read',
  'GET /api/sites/:site/sales-funnel': 'reports:read',
  'GET /api/sites/:site/scoring': 'reports:read',
  'PUT /api/sites/:site/funnels/:id': 'funnels:write',
  'DELETE /api/sites/:site/funnels/:id': 'funnels:write',
  'PUT /api/sites/:site/scoring': 'funnels:write',
  'DELETE /api/sites/:site/scoring': 'funnels:write',
  'POST /api/sites/:site/leads/:lead/stage': 'leads:write',
  'GET /api/sites/:site/export': 'export:read',
  'DELETE /api/sites/:site/visitors/:visitor': 'privacy:write',
  'DELETE /api/sites/:site/leads/:lead': 'privacy:write',
  'GET /api/sites/:site/integrations/hubspot': 'admin',
  'PUT /api/sites/:site/integrations/hubspot': 'admin',
  'DELETE /api/sites/:site/integrations/hubspot': 'admin',
  'POST /api/sites/:site/integrations/hubspot/test': 'admin',
  'GET /api/sites/:site/integrations/pipedrive': 'admin',
  'PUT /api/sites/:site/integrations/pipedrive': 'admin',
  'DELETE /api/sites/:site/integrations/pipedrive': 'admin',
  'POST /api/sites/:site/integrations/pipedrive/test': 'admin',
  'POST /api/sites/:site/integrations/hubspot/events': 'signed-by-crm',
  'POST /api/sites/:site/integrations/pipedrive/events': 'signed-by-crm',
  'GET /f-heatmaps.js': 'public',
  'GET /f-overlay.js': 'public',
  'GET /api/sites/:site/heatmap': 'reports:read',
  'POST /api/sites/:site/heatmap/overlay': 'reports:read',
  'GET /api/heatmap-overlay': 'shared-link',
};

/** A credential and what it should be let do: its permissions and sites (null: all); null for none or an invalid one. */
interface Credential {
  name: string;
  headers: () => Record<string, string>;
  grants: { permissions: readonly Permission[]; sites: string[] | null } | null;
}

let collector: RunningCollector;
const credentials: Credential[] = [];

beforeAll(async () => {
  collector = await startCollector();
  for (const domain of [A, B]) {
    expect((await collector.admin('/api/sites', { body: { domain, origins: [`https://${domain}`] } })).status).toBe(201);
  }
  const cookie = (value: string) => () => ({ cookie: `fb_session=${value}`, origin: collector.url });
  const bearer = (value: string) => () => ({ authorization: `Bearer ${value}` });
  credentials.push(
    { name: 'none', headers: () => ({}), grants: null },
    { name: 'a wrong token', headers: bearer('wrong-token'), grants: null },
    { name: 'an empty bearer', headers: () => ({ authorization: 'Bearer' }), grants: null },
    { name: 'the owner token as Basic', headers: () => ({ authorization: `Basic ${Buffer.from('admin:test-admin-token').toString('base64')}` }), grants: null },
    { name: 'a forged key', headers: bearer('fbk_0123456789abcdef01_notTheSecret'), grants: null },
    { name: 'the owner token', headers: bearer(collector.token), grants: { permissions: ROLE_PERMISSIONS.admin, sites: null } },
  );
  for (const [role, sites] of [['viewer', [A]], ['editor', [A]], ['admin', null], ['admin', [A]]] as const) {
    const email = `${role}-${sites ? 'a' : 'all'}@example.com`;
    const created = await collector.admin('/api/users', { body: { email, password: 'correct horse battery', role, sites } });
    expect(created.status).toBe(201);
    const session = await signIn(collector.url, email, 'correct horse battery');
    credentials.push({ name: `${role} of ${sites ? 'site a' : 'every site'}`, headers: cookie(session), grants: { permissions: ROLE_PERMISSIONS[role], sites: sites ? [...sites] : null } });
  }
  // A session past its time: opened, through the real code path, one lifetime ago.
  const [viewer] = (await collector.app.accounts.listUsers()).filter((u) => u.role === 'viewer');
  const expired = await collector.app.accounts.openSession(viewer, Date.now() - SESSION_TTL_MS - 1000);
  credentials.push({ name: 'an expired session', headers: cookie(expired), grants: null });
  for (const scope of ['reports:read', 'funnels:write', 'leads:write', 'export:read', 'privacy:write'] as const) {
    const key = (await (await collector.admin('/api/keys', { body: { name: scope, scopes: [scope], sites: [A] } })).json()) as { key: string };
    credentials.push({ name: `a ${scope} key of site a`, headers: bearer(key.key), grants: { permissions: [scope], sites: [A] } });
  }
  const other = (await (await collector.admin('/api/keys', {
    body: { name: 'site b', scopes: ['reports:read', 'funnels:write', 'leads:write', 'export:read', 'privacy:write'], sites: [B] },
  })).json()) as { key: string };
  credentials.push({ name: 'a key of site b only', headers: bearer(other.key), grants: { permissions: ['reports:read', 'funnels:write', 'leads:write', 'export:read', 'privacy:write'], sites: [B] } });
});

afterAll(async () => {
  await collector.close();
});

function concrete(url: string): string {
  return url.replace(':site', A).replace(/:[a-z]+/g, 'x').replace('*', 'x');
}

/**
 * 401 for no or bad credentials, 403 for what they do not grant, anything else when granted. A
 * CRM's webhook takes none of ours: unsigned by the CRM (here, always), it is a 401 to anyone.
 */
function expected(rule: Rule, credential: Credential, siteScoped: boolean): 'refused:401' | 'refused:403' | 'granted' {
  if (rule === 'signed-by-crm') return 'refused:401';
  if (rule === 'public' || rule === 'shared-link') return 'granted';
  if (!credential.grants) return 'refused:401';
  if (rule === 'signed-in') return 'granted';
  const { permissions, sites } = credential.grants;
  if (!permissions.includes(rule)) return 'refused:403';
  if (siteScoped ? sites !== null && !sites.includes(A) : rule === 'admin' && sites !== null) return 'refused:403';
  return 'granted';
}

describe('the route table', () => {
  it('has a rule here for every route', () => {
    const routes = collector.app.routeTable.filter((r) => !r.startsWith('OPTIONS '));
    expect(routes.filter((r) => !(r in RULES)), 'routes with no rule in this test').toEqual([]);
    expect(Object.keys(RULES).filter((r) => !routes.includes(r)), 'rules for routes that do not exist').toEqual([]);
  });

  it('answers every credential kind as its rule says: 401, 403 or through', async () => {
    // Signing out ends the session the other routes still need: it goes last.
    const routes = Object.keys(RULES).sort((a, b) => Number(a === 'POST /api/logout') - Number(b === 'POST /api/logout'));
    const checked: string[] = [];
    for (const route of routes) {
      const [method, url] = route.split(' ');
      for (const credential of credentials) {
        const reply = await fetch(`${collector.url}${concrete(url)}?from=${today}&to=${today}`, {
          method,
          headers: { ...credential.headers(), 'content-type': 'application/json' },
          body: ['GET', 'DELETE'].includes(method) ? undefined : '{}',
        });
        const want = expected(RULES[route], credential, url.includes(':site'));
        const label = `${route} with ${credential.name}`;
        if (want === 'granted') expect([401, 403], label).not.toContain(reply.status);
        else expect(reply.status, label).toBe(Number(want.split(':')[1]));
        if (reply.status >= 500) throw new Error(`${label}: ${reply.status}`);
        checked.push(label);
      }
    }
    expect(checked.length).toBe(Object.keys(RULES).length * credentials.length);
  });
});

describe('a change with a session cookie', () => {
  it('is refused from another origin, or with no origin at all, and changes nothing', async () => {
    await collector.admin('/api/users', { body: { email: 'csrf@example.com', password: 'correct horse battery', role: 'editor' } });
    const session = await signIn(collector.url, 'csrf@example.com', 'correct horse battery');
    const funnel = { name: 'f', window: '1h', steps: [{ name: 'a', event: 'pageview' }, { name: 'b', event: 'signup' }] };
    const put = (headers: Record<string, string>) => fetch(`${collector.url}/api/sites/${A}/funnels/csrf`, {
      method: 'PUT', headers: { cookie: `fb_session=${session}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(funnel),
    });
    for (const headers of [{ origin: 'https://evil.example' }, { origin: 'null' }, {}, { 'sec-fetch-site': 'cross-site' }] as Record<string, string>[]) {
      const reply = await put(headers);
      expect(reply.status, JSON.stringify(headers)).toBe(403);
      expect(((await reply.json()) as { field: string }).field).toBe('origin');
    }
    expect((await collector.admin(`/api/sites/${A}/funnels/csrf`)).status).toBe(404);
    // A read from elsewhere is harmless (and the cookie is SameSite=Strict anyway); the dashboard's own write goes through.
    expect((await put({ origin: collector.url })).status).toBe(201);
    expect((await collector.admin(`/api/sites/${A}/funnels/csrf`)).status).toBe(200);
  });

  it('signing in from another origin is refused too (no planting one’s own session in a victim’s browser)', async () => {
    const reply = await fetch(`${collector.url}/api/login`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: JSON.stringify({ email: 'csrf@example.com', password: 'correct horse battery' }),
    });
    expect(reply.status).toBe(403);
    expect(reply.headers.get('set-cookie')).toBeNull();
  });
});

describe('sites', () => {
  it('never show one site’s events under another', async () => {
    const send = (site: string, n: number) => fetch(`${collector.url}/api/event`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'user-agent': CHROME },
      body: JSON.stringify(Array.from({ length: n }, (_, i) => ({ site, name: 'pageview', url: `https://${site}/`, id: `${site}-${i}`, ts: Date.now() }))),
    });
    expect((await send(A, 3)).status).toBe(202);
    expect((await send(B, 5)).status).toBe(202);
    const stats = async (site: string) => (await (await collector.admin(`/api/sites/${site}/stats?from=${today}&to=${today}`)).json()) as { events: number };
    expect((await stats(A)).events).toBe(3);
    expect((await stats(B)).events).toBe(5);
    const funnel = { name: 'f', window: '1h', steps: [{ name: 'a', event: 'pageview' }, { name: 'b', event: 'signup' }] };
    expect((await collector.admin(`/api/sites/${A}/funnels/f`, { method: 'PUT', body: funnel })).status).toBe(201);
    expect((await collector.admin(`/api/sites/${B}/funnels/f/report?from=${today}&to=${today}`)).status).toBe(404);
    expect(await (await collector.admin(`/api/sites/${B}/funnels`)).json()).toEqual([]);
  });

  it('are listed only to those who may see them', async () => {
    const viewer = await signIn(collector.url, 'viewer-a@example.com', 'correct horse battery');
    const listed = (await (await withSession(collector.url, viewer, '/api/sites')).json()) as { domain: string }[];
    expect(listed.map((s) => s.domain)).toEqual([A]);
    const owner = (await (await collector.admin('/api/sites')).json()) as { domain: string }[];
    expect(owner.map((s) => s.domain).sort()).toEqual([A, B]);
  });

  it('admit only their own origins through CORS', async () => {
    const event = (site: string) => JSON.stringify({ site, name: 'pageview', url: `https://${site}/` });
    const post = (site: string, origin: string) => fetch(`${collector.url}/api/event`, {
      method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': CHROME, origin }, body: event(site),
    });
    const own = await post(A, `https://${A}`);
    expect(own.status).toBe(202);
    expect(own.headers.get('access-control-allow-origin')).toBe(`https://${A}`);
    // b's origin is a known origin, but not a's: refused, and the reply carries no CORS grant for a stranger.
    expect((await post(A, `https://${B}`)).status).toBe(403);
    const stranger = await post(A, 'https://evil.example');
    expect(stranger.status).toBe(403);
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('security headers', () => {
  it('are on management replies, 401s included', async () => {
    for (const reply of [await collector.admin('/api/sites'), await fetch(`${collector.url}/api/sites`)]) {
      expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
      expect(reply.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(reply.headers.get('strict-transport-security')).toContain('max-age=');
    }
  });
});
