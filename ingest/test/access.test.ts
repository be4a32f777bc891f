// Access: every management route refuses a missing or wrong token; one site's data never
// shows under another; CORS admits only a site's own origins.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../test-support/collector.js';

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const PUBLIC = new Set(['POST /api/event', 'OPTIONS /api/event', 'OPTIONS *']);
const today = new Date().toISOString().slice(0, 10);
let collector: RunningCollector;

beforeAll(async () => {
  collector = await startCollector();
  for (const domain of ['a.example.com', 'b.example.com']) {
    expect((await collector.admin('/api/sites', { body: { domain, origins: [`https://${domain}`] } })).status).toBe(201);
  }
});

afterAll(async () => {
  await collector.close();
});

function concrete(url: string): string {
  return url.replace(':site', 'a.example.com').replace(/:[a-z]+/g, 'x').replace('*', 'x');
}

describe('management routes', () => {
  it('are all guarded: 401 without a token, with a wrong one, or with another scheme', async () => {
    const guarded = collector.app.routeTable.filter((r) => r.split(' ')[1].startsWith('/api/') && !PUBLIC.has(r));
    expect(guarded.length).toBeGreaterThanOrEqual(9);
    for (const route of guarded) {
      const [method, url] = route.split(' ');
      for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${Buffer.from('admin:test-admin-token').toString('base64')}`, 'Bearer']) {
        const reply = await fetch(`${collector.url}${concrete(url)}?from=${today}&to=${today}`, {
          method,
          headers: { ...(authorization ? { authorization } : {}), 'content-type': 'application/json' },
          body: ['GET', 'DELETE'].includes(method) ? undefined : '{}',
        });
        expect(reply.status, `${route} with ${authorization}`).toBe(401);
      }
    }
  });
});

describe('sites', () => {
  it('never show one site’s events under another', async () => {
    const send = (site: string, n: number) => fetch(`${collector.url}/api/event`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'user-agent': CHROME },
      body: JSON.stringify(Array.from({ length: n }, (_, i) => ({ site, name: 'pageview', url: `https://${site}/`, id: `${site}-${i}`, ts: Date.now() }))),
    });
    expect((await send('a.example.com', 3)).status).toBe(202);
    expect((await send('b.example.com', 5)).status).toBe(202);
    const stats = async (site: string) => (await (await collector.admin(`/api/sites/${site}/stats?from=${today}&to=${today}`)).json()) as { events: number };
    expect((await stats('a.example.com')).events).toBe(3);
    expect((await stats('b.example.com')).events).toBe(5);
    const funnel = { name: 'f', window: '1h', steps: [{ name: 'a', event: 'pageview' }, { name: 'b', event: 'signup' }] };
    expect((await collector.admin('/api/sites/a.example.com/funnels/f', { method: 'PUT', body: funnel })).status).toBe(201);
    expect((await collector.admin('/api/sites/b.example.com/funnels/f/report?from=' + today + '&to=' + today)).status).toBe(404);
    expect(await (await collector.admin('/api/sites/b.example.com/funnels')).json()).toEqual([]);
  });

  it('admit only their own origins through CORS', async () => {
    const event = (site: string) => JSON.stringify({ site, name: 'pageview', url: `https://${site}/` });
    const post = (site: string, origin: string) => fetch(`${collector.url}/api/event`, {
      method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': CHROME, origin }, body: event(site),
    });
    const own = await post('a.example.com', 'https://a.example.com');
    expect(own.status).toBe(202);
    expect(own.headers.get('access-control-allow-origin')).toBe('https://a.example.com');
    // b's origin is a known origin, but not a's: refused, and the reply carries no CORS grant for a stranger.
    expect((await post('a.example.com', 'https://b.example.com')).status).toBe(403);
    const stranger = await post('a.example.com', 'https://evil.example');
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
