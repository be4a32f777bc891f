// Erasing a visitor or a lead, exporting a site, and retention: through the API, with the
// funnel reports and stats following.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../test-support/collector.js';
import { enforceRetention } from '../src/jobs/retention.js';
import { DAY_MS, utcDay } from '../src/time.js';

const SITE = 'erase.example.com';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const now = Date.now();
const from = utcDay(now - 2 * DAY_MS);
const to = utcDay(now);
let collector: RunningCollector;
let sequence = 0;

async function send(visitor: string, events: { name: string; path: string; ts: number; lead?: string }[]) {
  const body = events.map((e) => ({
    site: SITE, name: e.name, url: `https://${SITE}${e.path}`, id: `x${sequence++}`, ts: e.ts, visitor, session: `${visitor}-${e.ts}`, lead: e.lead,
  }));
  const reply = await fetch(`${collector.url}/api/event`, { method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': CHROME }, body: JSON.stringify(body) });
  expect(reply.status).toBe(202);
}

async function json(pathname: string, method = 'GET') {
  const reply = await collector.admin(pathname, { method });
  return { status: reply.status, body: (await reply.json()) as any };
}

const stats = async () => (await json(`/api/sites/${SITE}/stats?from=${from}&to=${to}`)).body;
const entered = async () => (await json(`/api/sites/${SITE}/funnels/f/report?from=${from}&to=${to}`)).body.steps.map((s: any) => s.entered);

beforeAll(async () => {
  collector = await startCollector();
  expect((await collector.admin('/api/sites', { body: { domain: SITE } })).status).toBe(201);
  const funnel = { name: 'f', window: '1h', steps: [{ name: 'Home', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup' }] };
  expect((await collector.admin(`/api/sites/${SITE}/funnels/f`, { method: 'PUT', body: funnel })).status).toBe(201);
  const t = now - 60_000;
  await send('anna', [{ name: 'pageview', path: '/', ts: t }, { name: 'signup', path: '/', ts: t + 1000 }]);
  await send('ben', [{ name: 'pageview', path: '/', ts: t }]);
  // Carl signs up as lead-7 on one device and comes back as lead-7 on another.
  await send('carl-phone', [{ name: 'pageview', path: '/', ts: t }, { name: 'signup', path: '/', ts: t + 2000, lead: 'lead-7' }]);
  await send('carl-laptop', [{ name: 'pageview', path: '/deals/x', ts: t + 5000, lead: 'lead-7' }]);
  // Two days old: past a one-day retention.
  await send('dora', [{ name: 'pageview', path: '/', ts: now - 2 * DAY_MS + 60_000 }]);
});

afterAll(async () => {
  await collector.close();
});

describe('erasure', () => {
  it('erases one visitor, and stats and funnels follow', async () => {
    expect(await stats()).toMatchObject({ events: 7, visitors: 5 });
    expect(await entered()).toEqual([4, 2]);
    const erased = await json(`/api/sites/${SITE}/visitors/anna`, 'DELETE');
    expect(erased).toEqual({ status: 200, body: { deleted_events: 2 } });
    expect(await stats()).toMatchObject({ events: 5, visitors: 4 });
    expect(await entered()).toEqual([3, 1]);
    expect((await json(`/api/sites/${SITE}/visitors/anna`, 'DELETE')).body).toEqual({ deleted_events: 0 });
  });

  it('erases a lead with the events of every visitor it was identified as', async () => {
    expect((await json(`/api/sites/${SITE}/leads/lead-7`)).status).toBe(200);
    const erased = await json(`/api/sites/${SITE}/leads/lead-7`, 'DELETE');
    expect(erased.body).toEqual({ deleted_events: 3 });
    expect((await json(`/api/sites/${SITE}/leads/lead-7`)).status).toBe(404);
    expect(await stats()).toMatchObject({ events: 2, visitors: 2 });
    expect(await entered()).toEqual([2, 0]);
    const files = fs.readdirSync(collector.dir).filter((f) => f.startsWith('funnelbeam.db'));
    const bytes = Buffer.concat(files.map((f) => fs.readFileSync(path.join(collector.dir, f)))).toString('latin1');
    expect(bytes).toContain('ben');
    for (const erased of ['lead-7', 'carl-phone', 'carl-laptop', 'anna']) expect(bytes.includes(erased), erased).toBe(false);
  });

  it('refuses erasure and export on an unknown site', async () => {
    expect((await json('/api/sites/nope.example/visitors/x', 'DELETE')).status).toBe(404);
    expect((await json(`/api/sites/nope.example/export?from=${from}&to=${to}`)).status).toBe(404);
  });
});

describe('export', () => {
  it('streams the site’s events as newline-delimited JSON', async () => {
    const reply = await collector.admin(`/api/sites/${SITE}/export?from=${from}&to=${to}`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await reply.text()).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((e) => [e.visitor, e.name, e.path])).toEqual([['dora', 'pageview', '/'], ['ben', 'pageview', '/']]);
    expect((await collector.admin(`/api/sites/${SITE}/export?from=${to}&to=${from}`)).status).toBe(400);
  });
});

describe('retention', () => {
  it('is set per site, validated, and deletes what is older in the background', async () => {
    const patch = (body: unknown) => fetch(`${collector.url}/api/sites/${SITE}`, {
      method: 'PATCH', headers: { authorization: `Bearer ${collector.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    expect((await patch({ retention_days: 0 })).status).toBe(400);
    expect((await patch({ retention_days: 'soon' })).status).toBe(400);
    const set = await patch({ retention_days: 1 });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ retention_days: 1 });
    expect(await stats()).toMatchObject({ events: 2 });
    expect(await enforceRetention(collector.app)).toBe(1);
    expect(await stats()).toMatchObject({ events: 1, visitors: 1 });
    expect(await entered()).toEqual([1, 0]);
    expect(await enforceRetention(collector.app)).toBe(0);
  });
});
