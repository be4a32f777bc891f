// The whole path in a real browser: a page on its own origin carries the script tag, Chromium
// loads /f.js from the collector, and the pageview and a custom event land in SQLite with the
// channel of the visit.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../test-support/browser.js';
import { startCollector, type RunningCollector } from '../test-support/collector.js';

const SITE = 'shop.test';
let browser: Browser;
let site: http.Server;
let siteOrigin: string;
const collectors: RunningCollector[] = [];

function page(collectorUrl: string): string {
  return `<!doctype html><html><head><title>Shop</title>
<script>window.funnel=window.funnel||function(){(window.funnel.q=window.funnel.q||[]).push(arguments)}</script>
<script defer data-site="${SITE}" data-allow-local src="${collectorUrl}/f.js"></script></head>
<body><h1>Deals</h1><button id="buy">Buy</button>
<script>document.getElementById('buy').addEventListener('click', function () { funnel('add_to_cart', { props: { deal: 'spa' } }); });</script>
</body></html>`;
}

async function collectorFor(acceptAutomatedBrowsers: boolean) {
  const collector = await startCollector({ acceptAutomatedBrowsers });
  collectors.push(collector);
  expect((await collector.admin('/api/sites', { body: { domain: SITE, origins: [siteOrigin] } })).status).toBe(201);
  return collector;
}

async function visit(collector: RunningCollector, referer: string) {
  const context = await browser.newContext();
  const tab = await context.newPage();
  const sent: string[] = [];
  // 'response', not 'requestfinished': Chromium reports keepalive fetches as aborted after their reply.
  tab.on('response', (response) => { if (response.url().endsWith('/api/event')) sent.push(String(response.status())); });
  await tab.goto(`${siteOrigin}/landing?collector=${encodeURIComponent(collector.url)}`, { referer });
  await expect.poll(() => sent.length).toBeGreaterThanOrEqual(1);
  await tab.click('#buy');
  await expect.poll(() => sent.length).toBeGreaterThanOrEqual(2);
  await context.close();
}

beforeAll(async () => {
  browser = await launchChromium();
  site = http.createServer((request, response) => {
    const collector = new URL(request.url ?? '/', 'http://x').searchParams.get('collector') ?? '';
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(collector));
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteOrigin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(collectors.map((c) => c.close()));
  await new Promise((resolve) => site?.close(resolve));
});

describe('script tag → collector', () => {
  it('stores the pageview and the custom event with the channel of the visit', async () => {
    const collector = await collectorFor(true);
    await visit(collector, 'https://www.google.com/');
    const db = new Database(collector.dbFile, { readonly: true });
    // The engagement event that closing the page sends is the snippet's business, not this test's.
    const count = db.prepare("SELECT count(*) AS n FROM events WHERE name != 'engagement'");
    await expect.poll(() => (count.get() as { n: number }).n).toBe(2);
    const rows = db.prepare("SELECT name, path, channel, source, medium, browser, props, landing FROM events WHERE name != 'engagement' ORDER BY ts").all();
    db.close();
    expect(rows).toEqual([
      { name: 'pageview', path: '/landing', channel: 'Organic Search', source: 'google', medium: 'organic', browser: 'Chrome Headless', props: null, landing: '/landing' },
      { name: 'add_to_cart', path: '/landing', channel: 'Organic Search', source: 'google', medium: 'organic', browser: 'Chrome Headless', props: '{"deal":"spa"}', landing: '/landing' },
    ]);
  });

  it('counts an automated browser as a bot and stores nothing, by default', async () => {
    const collector = await collectorFor(false);
    await visit(collector, 'https://www.bing.com/');
    const today = new Date().toISOString().slice(0, 10);
    const stats = (await (await collector.admin(`/api/sites/${SITE}/stats?from=${today}&to=${today}`)).json()) as Record<string, number>;
    expect(stats).toMatchObject({ visitors: 0, pageviews: 0, events: 0 });
    // The pageview and the click; the engagement beacon of the closing page may add one more.
    expect(stats.bots).toBeGreaterThanOrEqual(2);
  });
});
