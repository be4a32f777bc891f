// POST /api/event and the stats API against a listening collector and a real SQLite file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { startCollector, type RunningCollector } from '../../test-support/collector.js';

const SITE = 'shop.example.com';
const ORIGIN = 'https://shop.example.com';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const today = new Date().toISOString().slice(0, 10);

let collector: RunningCollector;
let db: Database.Database;

function post(body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${collector.url}/api/event`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'user-agent': CHROME, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function storedCount(): number {
  return (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
}

function event(overrides: Record<string, unknown> = {}) {
  return { site: SITE, name: 'pageview', url: `${ORIGIN}/`, ...overrides };
}

async function stats() {
  const reply = await collector.admin(`/api/sites/${SITE}/stats?from=${today}&to=${today}`);
  expect(reply.status).toBe(200);
  return reply.json() as Promise<{ visitors: number; pageviews: number; events: number; bots: number }>;
}

beforeAll(async () => {
  collector = await startCollector();
  const created = await collector.admin('/api/sites', { body: { domain: SITE, origins: [ORIGIN] } });
  expect(created.status).toBe(201);
  db = new Database(collector.dbFile, { readonly: true });
});

afterAll(async () => {
  db.close();
  await collector.close();
});

describe('accepted events', () => {
  it('stores a single event sent as text/plain and as application/json, and counts it', async () => {
    const before = await stats();
    expect((await post(event({ id: 'single-1', ts: Date.now() }))).status).toBe(202);
    expect((await post(event({ id: 'single-2', name: 'signup' }), { 'content-type': 'application/json' })).status).toBe(202);
    const after = await stats();
    expect(after.events - before.events).toBe(2);
    expect(after.pageviews - before.pageviews).toBe(1);
  });

  it('stores a batch of 100 in one request', async () => {
    const before = storedCount();
    const batch = Array.from({ length: 100 }, (_, i) => event({ id: `batch-${i}`, ts: Date.now(), visitor: `v-${i}` }));
    expect((await post(batch)).status).toBe(202);
    expect(storedCount() - before).toBe(100);
  });

  it('stores a retried event (same id and ts) once, also within one batch', async () => {
    const ts = Date.now();
    const before = storedCount();
    const retried = event({ id: 'retry-me', ts });
    expect((await post(retried)).status).toBe(202);
    expect((await post(retried)).status).toBe(202);
    expect((await post([retried, retried, event({ id: 'retry-other', ts })])).status).toBe(202);
    expect(storedCount() - before).toBe(2);
  });

  it('derives device, clean URL, visit and landing page, and never stores e-mail addresses', async () => {
    const ts = Date.now();
    await post(event({ id: 'derive-1', ts, visitor: 'derive-v', url: `${ORIGIN}/?utm_source=newsletter&utm_medium=email&utm_campaign=spring&fbclid=abc#top` }), { 'user-agent': IPHONE });
    await post(event({ id: 'derive-2', ts: ts + 1000, visitor: 'derive-v', url: `${ORIGIN}/deals/spa?contact=jane@example.com`, referrer: `${ORIGIN}/`, props: { email: 'jane@example.com', plan: 'gold' } }), { 'user-agent': IPHONE });
    const rows = db.prepare("SELECT * FROM events WHERE visitor = 'derive-v' ORDER BY ts").all() as Record<string, unknown>[];
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      url: `${ORIGIN}/?utm_source=newsletter&utm_medium=email&utm_campaign=spring`,
      path: '/', landing: '/', channel: 'Email', source: 'newsletter', medium: 'email', campaign: 'spring',
      browser: 'Safari', os: 'iOS', device: 'mobile',
    });
    // The internal click keeps the visit's source and landing page.
    expect(rows[1]).toMatchObject({ url: `${ORIGIN}/deals/spa`, path: '/deals/spa', landing: '/', channel: 'Email', session: rows[0].session });
    expect(JSON.parse(String(rows[1].props))).toEqual({ email: '[email]', plan: 'gold' });
    const everything = JSON.stringify(db.prepare('SELECT * FROM events').all());
    expect(everything).not.toContain('jane@example.com');
  });

  it('keys cookieless visitors by IP and User-Agent without storing either', async () => {
    await post(event({ id: 'cookieless-1', url: `${ORIGIN}/cookieless` }));
    await post(event({ id: 'cookieless-2', url: `${ORIGIN}/cookieless` }));
    await post(event({ id: 'cookieless-3', url: `${ORIGIN}/cookieless` }), { 'user-agent': IPHONE });
    const visitors = db.prepare("SELECT DISTINCT visitor FROM events WHERE path = '/cookieless'").all() as { visitor: string }[];
    expect(visitors).toHaveLength(2);
    for (const { visitor } of visitors) {
      expect(visitor).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(visitor).not.toContain('127.0.0.1');
    }
  });

  it('lets a lead id through but hashes one that is an e-mail address', async () => {
    await post(event({ id: 'lead-1', name: 'signup', lead: 'crm-4711' }));
    await post(event({ id: 'lead-2', name: 'signup', lead: 'Jane@Example.com' }));
    const leads = (db.prepare("SELECT lead FROM events WHERE id IN ('lead-1', 'lead-2') ORDER BY id").all() as { lead: string }[]).map((r) => r.lead);
    expect(leads[0]).toBe('crm-4711');
    expect(leads[1]).toMatch(/^h:[A-Za-z0-9_-]{22}$/);
  });
});

// What the events of one request share (bot check, visitor key, device) is worked out once per
// request, and pages and referrers once per distinct value: none of it may leak between events.
describe('what events share and what they do not', () => {
  const OTHER = 'blog.example.com';

  beforeAll(async () => {
    expect((await collector.admin('/api/sites', { body: { domain: OTHER, origins: [`https://${OTHER}`] } })).status).toBe(201);
  });

  it('checks each site of a batch and its origin, naming the event', async () => {
    const before = storedCount();
    const mixed = [event({ id: 'mix-1' }), { ...event({ id: 'mix-2' }), site: OTHER, url: `https://${OTHER}/` }];
    const refused = await post(mixed, { origin: ORIGIN });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ field: '1.site' });
    const unknown = await post([event({ id: 'mix-3' }), event({ id: 'mix-4' }), event({ id: 'mix-5', site: 'nope.example.com' })]);
    expect(unknown.status).toBe(403);
    expect(await unknown.json()).toMatchObject({ field: '2.site' });
    expect(storedCount()).toBe(before);
    expect((await post(mixed)).status).toBe(202);
    expect(storedCount() - before).toBe(2);
  });

  it('keys a cookieless visitor per site, also within one batch', async () => {
    const batch = [
      event({ id: 'shared-1', url: `${ORIGIN}/shared` }),
      { ...event({ id: 'shared-2' }), site: OTHER, url: `https://${OTHER}/shared` },
      event({ id: 'shared-3', url: `${ORIGIN}/shared` }),
    ];
    expect((await post(batch)).status).toBe(202);
    const rows = db.prepare("SELECT id, site, visitor FROM events WHERE id LIKE 'shared-%' ORDER BY id").all() as { id: string; site: string; visitor: string }[];
    expect(rows).toHaveLength(3);
    expect(rows[0].visitor).toBe(rows[2].visitor);
    expect(rows[1].visitor).not.toBe(rows[0].visitor);
  });

  it('classifies one referrer by the tags of each page it leads to', async () => {
    const referrer = 'https://www.google.com/';
    const landings: [string, string][] = [
      ['paid', `${ORIGIN}/spa?utm_source=google&utm_medium=cpc`],
      ['organic', `${ORIGIN}/spa`],
      ['ads-click', `${ORIGIN}/spa?gclid=abc`],
      ['newsletter', `${ORIGIN}/spa?utm_source=newsletter&utm_medium=email`],
    ];
    for (const [visitor, url] of landings) {
      expect((await post(event({ id: `ref-${visitor}`, visitor: `ref-${visitor}`, url, referrer }))).status).toBe(202);
    }
    const channels = Object.fromEntries((db.prepare("SELECT visitor, channel FROM events WHERE id LIKE 'ref-%'").all() as { visitor: string; channel: string }[])
      .map((r) => [r.visitor, r.channel]));
    expect(channels).toEqual({ 'ref-paid': 'Paid Search', 'ref-organic': 'Organic Search', 'ref-ads-click': 'Paid Search', 'ref-newsletter': 'Email' });
  });
});

describe('channels of typical visits', () => {
  const visits: [string, { referrer?: string; query?: string }, { channel: string; source: string | null; medium?: string | null; term?: string | null }][] = [
    ['Google', { referrer: 'https://www.google.com/' }, { channel: 'Organic Search', source: 'google', medium: 'organic' }],
    ['Bing with a term', { referrer: 'https://www.bing.com/search?q=spa+deals' }, { channel: 'Organic Search', source: 'bing', term: 'spa deals' }],
    ['DuckDuckGo', { referrer: 'https://duckduckgo.com/' }, { channel: 'Organic Search', source: 'duckduckgo' }],
    ['Facebook', { referrer: 'https://l.facebook.com/' }, { channel: 'Organic Social', source: 'facebook', medium: 'social' }],
    ['t.co', { referrer: 'https://t.co/abc123' }, { channel: 'Organic Social', source: 'twitter' }],
    ['LinkedIn', { referrer: 'https://www.linkedin.com/' }, { channel: 'Organic Social', source: 'linkedin' }],
    ['newsletter UTM', { query: '?utm_source=newsletter&utm_medium=email' }, { channel: 'Email', source: 'newsletter', medium: 'email' }],
    ['cpc UTM from Google', { query: '?utm_source=google&utm_medium=cpc&utm_campaign=spa', referrer: 'https://www.google.com/' }, { channel: 'Paid Search', source: 'google', medium: 'cpc' }],
    ['cpc UTM from Facebook', { query: '?utm_source=facebook&utm_medium=cpc' }, { channel: 'Paid Social', source: 'facebook' }],
    ['a blog', { referrer: 'https://some-blog.net/post/1' }, { channel: 'Referral', source: 'some-blog.net', medium: 'referral' }],
    ['direct', {}, { channel: 'Direct', source: null, medium: null }],
  ];

  it.each(visits)('%s', async (label, visit, expected) => {
    const visitor = `channel-${label}`;
    const reply = await post(event({ id: visitor, visitor, url: `${ORIGIN}/landing${visit.query ?? ''}`, referrer: visit.referrer ?? '' }));
    expect(reply.status).toBe(202);
    const row = db.prepare('SELECT channel, source, medium, term FROM events WHERE visitor = ?').get(visitor);
    expect(row).toMatchObject(expected);
  });
});

describe('bots', () => {
  it('counts bots in stats and stores none of their events', async () => {
    const before = await stats();
    const storedBefore = storedCount();
    const googlebot = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
    expect((await post([event({ id: 'bot-1' }), event({ id: 'bot-2' })], { 'user-agent': googlebot })).status).toBe(202);
    expect((await post(event({ id: 'bot-3' }), { 'user-agent': 'curl/8.5.0' })).status).toBe(202);
    expect((await post(event({ id: 'bot-4', wd: true }))).status).toBe(202);
    const after = await stats();
    expect(after.bots - before.bots).toBe(4);
    expect(after.events - before.events).toBe(0);
    expect(storedCount()).toBe(storedBefore);
  });
});

describe('bad input gets a clear 4xx and changes nothing', () => {
  const cases: [string, () => Promise<Response>, number, string][] = [
    ['malformed JSON', () => post('{"site": "shop'), 400, '(body)'],
    ['a JSON string', () => post('"hello"'), 400, '(body)'],
    ['null', () => post('null'), 400, '(body)'],
    ['an empty batch', () => post([]), 400, '(body)'],
    ['a batch of 101', () => post(Array.from({ length: 101 }, () => event())), 400, '(body)'],
    ['a missing name', () => post({ site: SITE, url: `${ORIGIN}/` }), 400, 'name'],
    ['a bad name', () => post(event({ name: '<script>' })), 400, 'name'],
    ['a 65-character name', () => post(event({ name: 'x'.repeat(65) })), 400, 'name'],
    ['a missing url', () => post({ site: SITE, name: 'pageview' }), 400, 'url'],
    ['a relative url', () => post(event({ url: '/deals' })), 400, 'url'],
    ['a javascript: url', () => post(event({ url: 'javascript:alert(1)' })), 400, 'url'],
    ['a url over 2048 characters', () => post(event({ url: `${ORIGIN}/${'a'.repeat(2048)}` })), 400, 'url'],
    ['an id over 64 characters', () => post(event({ id: 'i'.repeat(65) })), 400, 'id'],
    ['a ts as a string', () => post(event({ ts: '1700000000000' })), 400, 'ts'],
    ['a ts past 2^53', () => post(event({ ts: 1e300 })), 400, 'ts'],
    ['31 props', () => post(event({ props: Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, i])) })), 400, 'props'],
    ['a nested prop', () => post(event({ props: { deal: { id: 1 } } })), 400, 'props.deal'],
    ['revenue without currency', () => post(event({ revenue: { amount: 25 } })), 400, 'revenue.currency'],
    ['a lowercase currency', () => post(event({ revenue: { amount: 25, currency: 'usd' } })), 400, 'revenue.currency'],
    ['scroll over 100', () => post(event({ scroll: 140 })), 400, 'scroll'],
    ['a __proto__ key', () => post('{"site":"shop.example.com","name":"x","url":"https://shop.example.com/","__proto__":{"polluted":true}}'), 400, '(body)'],
    ['a bad event inside a batch', () => post([event({ id: 'ok-in-bad-batch' }), event({ name: '' })]), 400, '1.name'],
    ['an unknown site', () => post(event({ site: 'other.example.com' })), 403, 'site'],
    ['a foreign origin', () => post(event({ id: 'foreign' }), { origin: 'https://evil.example' }), 403, 'site'],
  ];

  it.each(cases)('%s', async (_label, send, status, field) => {
    const before = storedCount();
    const reply = await send();
    expect(reply.status).toBe(status);
    const body = (await reply.json()) as { error: string; field: string };
    expect(body.field).toBe(field);
    expect(body.error.length).toBeGreaterThan(3);
    expect(storedCount()).toBe(before);
  });

  it('refuses a body over the limit with 413', async () => {
    const huge = JSON.stringify(event({ props: { blob: 'x'.repeat(400) } })).padEnd(300_000, ' ');
    const reply = await post(huge);
    expect(reply.status).toBe(413);
  });

  it('refuses other content types with 415', async () => {
    const reply = await post(JSON.stringify(event()), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(reply.status).toBe(415);
  });

  it('accepts the site origin and answers CORS for it', async () => {
    const reply = await post(event({ id: 'cors-ok' }), { origin: ORIGIN });
    expect(reply.status).toBe(202);
    expect(reply.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const preflight = await fetch(`${collector.url}/api/event`, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ORIGIN);
  });

  it('never answers a 5xx to garbage', async () => {
    const garbage = ['', '{', '[', '[[[[[[[[[[', '{"a":' + '['.repeat(5000), '\u0000\u0001', '{"site":1e999}', 'true', '123',
      '[null]', '[1,2]', '{"site":"shop.example.com","name":"x","url":"http://[::1"}', '\ud800', '{"props":{"constructor":{"prototype":{}}}}'];
    for (const body of garbage) {
      for (const type of ['text/plain', 'application/json']) {
        const reply = await post(body, { 'content-type': type });
        expect(reply.status, `${type} ${JSON.stringify(body).slice(0, 40)}`).toBeGreaterThanOrEqual(400);
        expect(reply.status, `${type} ${JSON.stringify(body).slice(0, 40)}`).toBeLessThan(500);
      }
    }
  });
});

describe('management API', () => {
  it('refuses a missing or wrong token with 401', async () => {
    for (const authorization of [undefined, 'Bearer wrong', 'Basic dGVzdA==', 'Bearer ']) {
      const reply = await fetch(`${collector.url}/api/sites/${SITE}/stats?from=${today}&to=${today}`, {
        headers: authorization ? { authorization } : {},
      });
      expect(reply.status).toBe(401);
    }
  });

  it('validates sites and date ranges', async () => {
    expect((await collector.admin('/api/sites', { body: { domain: 'Not A Domain' } })).status).toBe(400);
    expect((await collector.admin('/api/sites', { body: { domain: 'x.example', origins: ['https://x.example/path'] } })).status).toBe(400);
    expect((await collector.admin('/api/sites', { body: { domain: SITE } })).status).toBe(409);
    expect((await collector.admin(`/api/sites/${SITE}/stats?from=2024-02-30&to=2024-03-01`)).status).toBe(400);
    expect((await collector.admin(`/api/sites/${SITE}/stats?from=2024-03-02&to=2024-03-01`)).status).toBe(400);
    expect((await collector.admin(`/api/sites/${SITE}/stats?from=2024-03-01`)).status).toBe(400);
    expect((await collector.admin('/api/sites/nope.example/stats?from=2024-03-01&to=2024-03-01')).status).toBe(404);
  });

  it('updates allowed origins and parameters', async () => {
    const reply = await collector.admin('/api/sites/x2.example', { body: {} });
    expect(reply.status).toBe(404);
    expect((await collector.admin('/api/sites', { body: { domain: 'x2.example' } })).status).toBe(201);
    const patched = await fetch(`${collector.url}/api/sites/x2.example`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${collector.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ origins: ['https://x2.example', 'https://www.x2.example'], allowed_params: ['ref'] }),
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ origins: ['https://x2.example', 'https://www.x2.example'], allowed_params: ['ref'] });
    expect((await post({ site: 'x2.example', name: 'pageview', url: 'https://x2.example/?ref=abc&x=1', id: 'x2' }, { origin: 'https://www.x2.example' })).status).toBe(202);
    expect(db.prepare("SELECT url FROM events WHERE id = 'x2'").get()).toEqual({ url: 'https://x2.example/?ref=abc' });
  });
});
