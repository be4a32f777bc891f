// Heatmaps, the whole path in Chromium (CONTRACT.md, "Heatmaps"): a page on its own origin,
// under a strict Content-Security-Policy, with data-heatmaps on the tag; clicks at known offsets
// on known elements at desktop and phone widths; the API's selectors, counts, mean offsets and
// scroll reach; the funnel split; text typed into a field nowhere; the overlay on the live page.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test-support/browser.js';
import { startCollector, type RunningCollector } from '../test-support/collector.js';
import { DEMO_SITE, ensureDemoSite } from '../ingest/src/demo.js';

// Like e2e/dashboard.test.ts: the committed screenshots change only on purpose (UPDATE_SCREENSHOTS=1).
const here = path.dirname(fileURLToPath(import.meta.url));
const SCREENSHOT_DIRS = [path.resolve(here, '../test-results/screenshots'), ...(process.env.UPDATE_SCREENSHOTS ? [path.resolve(here, '../dashboard/screenshots')] : [])];
async function screenshot(take: (file: string) => Promise<unknown>, name: string) {
  for (const dir of SCREENSHOT_DIRS) {
    fs.mkdirSync(dir, { recursive: true });
    await take(path.join(dir, name));
  }
}

const SITE = 'heat.test';
const SECRET = 'typed-secret-8f3a1c';
const today = new Date().toISOString().slice(0, 10);
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 800 };

let browser: Browser;
let collector: RunningCollector;
let site: http.Server;
let siteOrigin: string;

// The page is 4,000 px tall, so a viewport of 800 px starts at 20% and each scroll is exact.
const css = `body { margin: 0; font: 16px system-ui; } #top { height: 200px; overflow: hidden; } #tall { height: 3800px; }
#buy { display: block; width: 200px; height: 50px; margin: 20px; }
section a { display: inline-block; width: 100px; height: 40px; margin: 4px; }
#size { width: 120px; height: 40px; } #email { width: 200px; }`;

function page(heatmaps: boolean): string {
  return `<!doctype html><html><head><title>Spa deal</title><link rel="stylesheet" href="/style.css">
<script defer data-site="${SITE}" data-persist="visitor"${heatmaps ? ' data-heatmaps' : ''} src="${collector.url}/f.js"></script></head>
<body><div id="top"><button id="buy" data-funnel-event="add_to_cart">Buy now</button>
<section data-section="gallery"><a href="#p1">Photo 1</a><a href="#p2">Photo 2</a></section>
<button id="size">Size</button><input id="email" type="email" autocomplete="off"></div>
<div id="tall"></div></body></html>`;
}

beforeAll(async () => {
  browser = await launchChromium();
  collector = await startCollector({ acceptAutomatedBrowsers: true });
  site = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    // The site's own strict policy: scripts and requests only from itself and the collector, no inline style.
    const csp = `default-src 'self'; script-src 'self' ${collector.url}; connect-src 'self' ${collector.url}; style-src 'self'; img-src 'self'`;
    if (url.pathname === '/style.css') return response.writeHead(200, { 'content-type': 'text/css' }).end(css);
    const html = url.pathname.startsWith('/deals/') ? page(true) : url.pathname === '/plain' ? page(false) : '<!doctype html><title>bye</title>';
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp }).end(html);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteOrigin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  expect((await collector.admin('/api/sites', { body: { domain: SITE, origins: [siteOrigin] } })).status).toBe(201);
  const funnel = { name: 'Spa', window: '1h', steps: [{ name: 'Deal', event: 'pageview', path: '/deals/*' }, { name: 'Cart', event: 'add_to_cart' }] };
  expect((await collector.admin(`/api/sites/${SITE}/funnels/spa`, { method: 'PUT', body: funnel })).status).toBeLessThan(300);
});

afterAll(async () => {
  await browser?.close();
  await collector?.close();
  await new Promise((resolve) => site?.close(resolve));
});

/** Clicks an element at an offset inside its box (0..1 each way). */
async function clickAt(tab: Page, selector: string, x: number, y: number) {
  const box = (await tab.locator(selector).boundingBox())!;
  await tab.mouse.click(box.x + x * box.width, box.y + y * box.height);
}

/** One visitor (its own context: its own visitor id), one page: what it does, then it leaves. */
async function visit(viewport: { width: number; height: number }, act: (tab: Page) => Promise<void>, scrollTo?: number) {
  const context = await browser.newContext({ viewport });
  const tab = await context.newPage();
  const violations: string[] = [];
  tab.on('console', (m) => { if (/Content.Security.Policy|Refused/i.test(m.text())) violations.push(m.text()); });
  const loaded = tab.waitForResponse((r) => r.url().endsWith('/f-heatmaps.js'));
  await tab.goto(`${siteOrigin}/deals/spa`);
  await loaded;
  await tab.waitForFunction(() => typeof (window as unknown as { funnel?: { h?: unknown } }).funnel?.h === 'function');
  await act(tab);
  if (scrollTo !== undefined) {
    // The deepest scroll as a share of the page: (scrollY + innerHeight) / 4000.
    await tab.evaluate((y) => window.scrollTo(0, y), (scrollTo / 100) * 4000 - viewport.height);
    await tab.waitForTimeout(100);
  }
  // Engaged time is counted a second at a time: stay long enough for an engagement to go out.
  await tab.waitForTimeout(1_300);
  await tab.goto(`${siteOrigin}/bye`);
  await context.close();
  expect(violations).toEqual([]);
}

async function heatmap(query: string) {
  const response = await collector.admin(`/api/sites/${SITE}/heatmap?from=${today}&to=${today}&path=/deals/*${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as {
    pageviews: number;
    clicks: { selector: string; x: number; y: number; count: number; rage: number }[];
    scroll: { depth: number; visitors: number }[];
  };
}

const reach = (counts: number[]) => counts.map((visitors, i) => ({ depth: (i + 1) * 10, visitors }));

describe('heatmaps in Chromium', () => {
  it('records clicks at known offsets, per device class, with exact scroll reach and the funnel split', async () => {
    // Desktop goers: #buy at (0.25, 0.75) and (0.35, 0.65); one also a gallery photo. A desktop
    // leaver: a photo, a rage burst on #size, text typed into #email. A phone goer and leaver.
    await visit(DESKTOP, async (tab) => clickAt(tab, '#buy', 0.25, 0.75), 55);
    await visit(DESKTOP, async (tab) => {
      await clickAt(tab, '#buy', 0.35, 0.65);
      await clickAt(tab, 'section a >> nth=1', 0.5, 0.5);
    }, 100);
    await visit(DESKTOP, async (tab) => {
      await clickAt(tab, 'section a >> nth=1', 0.1, 0.2);
      for (let i = 0; i < 3; i++) await clickAt(tab, '#size', 0.5, 0.5);
      await clickAt(tab, '#email', 0.5, 0.5);
      await tab.keyboard.type(SECRET);
    });
    await visit(PHONE, async (tab) => clickAt(tab, '#buy', 0.5, 0.5), 100);
    await visit(PHONE, async (tab) => clickAt(tab, 'section a >> nth=1', 0.9, 0.1));

    await expect.poll(async () => (await heatmap('')).pageviews, { timeout: 10_000 }).toBe(5);
    // The photo link has no id or data attribute of its own: its position, the shortest unique path.
    const photo = 'a:nth-of-type(2)';

    const desktop = await heatmap('&device=desktop');
    expect(desktop.pageviews).toBe(3);
    const byDesktop = new Map(desktop.clicks.map((c) => [c.selector, c]));
    expect([...byDesktop.keys()].sort()).toEqual(['#buy', 'input', '#size', photo].sort());
    expect(byDesktop.get('#buy')!.count).toBe(2);
    expect(byDesktop.get('#buy')!.x).toBeCloseTo(0.3, 1);
    expect(Math.abs(byDesktop.get('#buy')!.x - 0.3)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(byDesktop.get('#buy')!.y - 0.7)).toBeLessThanOrEqual(0.05);
    expect(byDesktop.get(photo)!.count).toBe(2);
    expect(Math.abs(byDesktop.get(photo)!.x - 0.3)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(byDesktop.get(photo)!.y - 0.35)).toBeLessThanOrEqual(0.05);
    expect(byDesktop.get('#size')).toMatchObject({ count: 3, rage: 1 });
    expect(desktop.scroll).toEqual(reach([3, 3, 2, 2, 2, 1, 1, 1, 1, 1]));

    const phone = await heatmap('&device=mobile');
    expect(phone.pageviews).toBe(2);
    expect(phone.clicks.map((c) => [c.selector, c.count])).toEqual(expect.arrayContaining([['#buy', 1], [photo, 1]]));
    expect(phone.clicks).toHaveLength(2);
    const phoneBuy = phone.clicks.find((c) => c.selector === '#buy')!;
    expect(Math.abs(phoneBuy.x - 0.5)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(phoneBuy.y - 0.5)).toBeLessThanOrEqual(0.05);
    const phonePhoto = phone.clicks.find((c) => c.selector === photo)!;
    expect(Math.abs(phonePhoto.x - 0.9)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(phonePhoto.y - 0.1)).toBeLessThanOrEqual(0.05);
    expect(phone.scroll).toEqual(reach([2, 2, 1, 1, 1, 1, 1, 1, 1, 1]));
    expect((await heatmap('&device=tablet')).pageviews).toBe(0);

    // The funnel split: leavers of step 1 are the desktop leaver and the phone leaver.
    const dropped = await heatmap('&funnel=spa&step=1&status=dropped');
    expect(dropped.pageviews).toBe(2);
    expect(new Map(dropped.clicks.map((c) => [c.selector, c.count]))).toEqual(new Map([[photo, 2], ['#size', 3], ['input', 1]]));
    const droppedDesktop = await heatmap('&funnel=spa&step=1&status=dropped&device=desktop');
    expect(droppedDesktop.clicks.map((c) => c.selector).sort()).toEqual(['input', '#size', photo].sort());
    expect(droppedDesktop.scroll).toEqual(reach([1, 1, 0, 0, 0, 0, 0, 0, 0, 0]));
    const wentOn = await heatmap('&funnel=spa&step=1&status=went_on');
    expect(wentOn.pageviews).toBe(3);
    expect(new Map(wentOn.clicks.map((c) => [c.selector, c.count]))).toEqual(new Map([['#buy', 3], [photo, 1]]));

    // Text typed into the field is nowhere: not in the store's files, the export or the API.
    const files = fs.readdirSync(path.dirname(collector.dbFile)).map((f) => path.join(path.dirname(collector.dbFile), f));
    for (const file of files) expect(fs.readFileSync(file).includes(SECRET)).toBe(false);
    const exported = await (await collector.admin(`/api/sites/${SITE}/export?from=${today}&to=${today}`)).text();
    expect(exported).toContain('engagement');
    expect(exported).not.toContain(SECRET);
    expect(JSON.stringify([desktop, phone, dropped, wentOn])).not.toContain(SECRET);
  });

  it('a page without data-heatmaps, or an opted-out visitor, loads nothing more than /f.js', async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    const scripts: string[] = [];
    tab.on('request', (r) => { if (r.resourceType() === 'script') scripts.push(new URL(r.url()).pathname); });
    await tab.goto(`${siteOrigin}/plain`);
    await tab.waitForFunction(() => (window as unknown as { funnel?: { on?: number } }).funnel?.on === 1);
    await tab.waitForTimeout(300);
    expect(scripts).toEqual(['/f.js']);

    // Opted out: the capture file is not loaded even where the tag asks for it, and nothing is sent.
    const optedOut = await context.newPage();
    await optedOut.addInitScript(() => localStorage.setItem('fb_ignore', '1'));
    const loaded: string[] = [];
    optedOut.on('request', (r) => { if (r.resourceType() === 'script' || r.url().endsWith('/api/event')) loaded.push(new URL(r.url()).pathname); });
    await optedOut.goto(`${siteOrigin}/deals/spa`);
    await optedOut.waitForTimeout(500);
    expect(loaded).toEqual(['/f.js']);
    await context.close();
  });

  it('draws the overlay on the live page under its CSP, from a signed read-only link', async () => {
    const response = await collector.admin(`/api/sites/${SITE}/heatmap/overlay`, { body: { path: '/deals/*', from: today, to: today, device: 'desktop' } });
    expect(response.status).toBe(200);
    const link = (await response.json()) as { token: string; url: string };
    expect(link.url).toBe(`${siteOrigin}/deals/spa#fb-heatmap=${encodeURIComponent(link.token)}`);

    const context = await browser.newContext({ viewport: DESKTOP });
    const tab = await context.newPage();
    const violations: string[] = [];
    tab.on('console', (m) => { if (/Content.Security.Policy|Refused/i.test(m.text())) violations.push(m.text()); });
    const events: string[] = [];
    tab.on('request', (r) => { if (r.url().endsWith('/api/event')) events.push(r.postData() ?? ''); });
    await tab.goto(link.url);
    await tab.waitForSelector('#fb-overlay-ready', { state: 'attached' });
    expect(await tab.textContent('#fb-overlay-panel')).toContain('3 pageviews');
    // The marks sit over the elements the selectors find: #buy's outline is #buy's box.
    const buy = (await tab.locator('#buy').boundingBox())!;
    const outlines = await tab.evaluate(() => [...document.querySelectorAll<HTMLElement>('#fb-overlay > div')]
      .map((el) => ({ left: parseFloat(el.style.left), top: parseFloat(el.style.top), width: parseFloat(el.style.width), text: el.textContent })));
    expect(outlines.some((o) => Math.abs(o.left - buy.x) < 1 && Math.abs(o.top - buy.y) < 1 && Math.abs(o.width - buy.width) < 1)).toBe(true);
    expect(outlines.map((o) => o.text)).toEqual(expect.arrayContaining(['2 clicks', '3 clicks, 1 rage']));
    expect(violations).toEqual([]);
    // The person looking records nothing: no click of theirs is sent.
    await tab.click('#buy');
    await tab.waitForTimeout(300);
    expect(events.some((body) => body.includes('"heatmap"'))).toBe(false);

    // A forged or altered token reads nothing.
    const forged = await fetch(`${collector.url}/api/heatmap-overlay?token=${encodeURIComponent(link.token.slice(0, -2) + 'xx')}`);
    expect(forged.status).toBe(401);
    await context.close();
  });

  it('the dashboard shows a page step’s goers beside its leavers, and opens the overlay', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const tab = await context.newPage();
    await tab.goto(`${collector.url}/`);
    await tab.getByLabel('Admin token').fill(collector.token);
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await tab.getByRole('button', { name: 'Sign out' }).waitFor();
    await tab.getByLabel('Site').selectOption(SITE);
    await tab.getByLabel('Date range (UTC)').selectOption('today');
    await tab.locator('.funnel .step[data-step="0"] .step-name').click();
    const rows = async (side: string) => tab.locator(`[data-table="heatmap-${side}"] tbody tr`).evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
    // Selector, clicks and clicks per pageview as the API counts them; the mean offset as a percentage.
    const shown = async (side: string) => (await rows(side)).map(([selector, clicks, per, offset]) => [selector, clicks, per, /^\d+(\.\d)?%, \d+(\.\d)?%$/.test(offset ?? '')]);
    await expect.poll(() => shown('went_on')).toEqual([['#buy', '3', '1.00', true], ['a:nth-of-type(2)', '1', '0.33', true]]);
    expect(await shown('dropped')).toEqual([['#size', '3 (1 rage)', '1.50', true], ['a:nth-of-type(2)', '2', '1.00', true], ['input', '1', '0.50', true]]);
    expect(await tab.locator('#heatmap svg.scroll-reach rect').count()).toBe(20);
    await screenshot((file) => tab.locator('#heatmap').screenshot({ path: file }), 'heatmap-panel.png');
    // The overlay link opens the site's own page with the overlay drawn.
    const [live] = await Promise.all([context.waitForEvent('page'), tab.getByRole('button', { name: 'Open on the live page' }).click()]);
    await live.waitForSelector('#fb-overlay-ready', { state: 'attached' });
    expect(new URL(live.url()).origin).toBe(siteOrigin);
    expect(await live.textContent('#fb-overlay-panel')).toContain('2 pageviews');
    await context.close();
  });

  it('shows the overlay over the demo shop’s deal page (the README screenshot)', async () => {
    await ensureDemoSite(collector.app, collector.url);
    const deal = `${collector.url}/demo/deals/chicago-spa.html`;
    const clicks: [string, number, number][][] = [
      [['#buy', 0.3, 0.5]], [['#buy', 0.6, 0.4]], [['#buy', 0.5, 0.6], ['h1', 0.2, 0.5]],
      [['.was', 0.5, 0.5], ['.was', 0.5, 0.5], ['.was', 0.5, 0.5]], [['header a', 0.5, 0.5]],
    ];
    for (const [i, plan] of clicks.entries()) {
      // Three on a short window, who never see the footer: the fold shows on the page.
      const context = await browser.newContext({ viewport: i < 3 ? { width: 1280, height: 320 } : DESKTOP });
      const tab = await context.newPage();
      await tab.goto(deal);
      await tab.waitForFunction(() => typeof (window as unknown as { funnel?: { h?: unknown } }).funnel?.h === 'function');
      // Stay on the page: the buy link would navigate before the clicks of a burst.
      await tab.evaluate(() => document.addEventListener('click', (e) => e.preventDefault()));
      for (const [selector, x, y] of plan) await clickAt(tab, selector, x, y);
      await tab.waitForTimeout(1_300);
      await tab.goto(`${collector.url}/healthz`);
      await context.close();
    }
    const query = `from=${today}&to=${today}&path=/demo/deals/*&device=desktop`;
    await expect.poll(async () => ((await (await collector.admin(`/api/sites/${DEMO_SITE}/heatmap?${query}`)).json()) as { pageviews: number }).pageviews,
      { timeout: 10_000 }).toBe(5);
    const link = (await (await collector.admin(`/api/sites/${DEMO_SITE}/heatmap/overlay`, { body: { path: '/demo/deals/*', from: today, to: today, device: 'desktop' } })).json()) as { url: string };
    expect(new URL(link.url).pathname).toBe('/demo/deals/chicago-spa.html');
    const context = await browser.newContext({ viewport: { width: 1100, height: 560 } });
    const tab = await context.newPage();
    await tab.goto(link.url);
    await tab.waitForSelector('#fb-overlay-ready', { state: 'attached' });
    await screenshot((file) => tab.screenshot({ path: file }), 'heatmap-overlay.png');
    expect(fs.statSync(path.join(SCREENSHOT_DIRS[0], 'heatmap-overlay.png')).size).toBeGreaterThan(10_000);
    await context.close();
  });
});
