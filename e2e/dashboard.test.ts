// The dashboard in Chromium against a collector filled by real snippet traffic: journeys on a
// fixture shop (referrers, UTM tags, devices, A/B variants, one journey two days ago), a funnel
// defined through the API, then what a marketer does: sign in, pick, read, break down, drill
// into a step, export, edit a funnel. Every number on screen is compared with the report API.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../test-support/browser';
import { startCollector, type RunningCollector } from '../test-support/collector';
import { buildDashboard, JS_BUDGET_GZIP } from '../dashboard/build';
import { DASHBOARD_CSP } from '../ingest/src/routes/dashboard';
import type { FunnelReport } from '../ingest/src/funnel/report';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(here, 'fixtures');
// The committed screenshots change only on purpose (UPDATE_SCREENSHOTS=1); a plain test run
// writes its own into test-results/, so `npm test` leaves the tree clean.
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS
  ? path.resolve(here, '../dashboard/screenshots')
  : path.resolve(here, '../test-results/screenshots');
const SITE = 'shop.fixture.test';
const DAY = 86_400_000;
const utcDay = (offset = 0) => new Date(Date.now() + offset * DAY).toISOString().slice(0, 10);
const TODAY = { from: utcDay(), to: utcDay() };
const WEEK = { from: utcDay(-6), to: utcDay() };

const UA = {
  desktop: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
  firefox: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.0; rv:131.0) Gecko/20100101 Firefox/131.0',
};

// Markup and script in everything an event carries that the dashboard shows: UTM values, the
// A/B variant, a property, the referrer, the path of an exit. Each would set window.__xss if run.
const XSS = {
  source: '<script>window.__xss=1</script>',
  campaign: '<img src=x onerror="window.__xss=2">',
  variant: '<img src=x onerror="window.__xss=3">',
  note: '<script>window.__xss=4</script>',
  referrer: 'https://evil.example/<script>window.__xss=5</script>',
  exitPath: '/<img src=x onerror=window.__xss=6>',
};

const FUNNEL = {
  name: 'Shop purchase',
  window: '1d',
  steps: [
    { name: 'Landing', event: 'pageview', path: '/' },
    { name: 'Pricing', event: 'pageview', path: '/pricing.html' },
    { name: 'Signup', event: 'signup' },
    { name: 'Purchase', event: 'purchase' },
  ],
};

let collector: RunningCollector;
let shop: http.Server;
let shopOrigin: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const dialogs: string[] = [];
const cspViolations: string[] = [];
const pageErrors: string[] = [];

/** The fixture shop: e2e/fixtures, with the collector's URL and the site put into each page. */
function startShop(collectorUrl: string): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const pathname = new URL(request.url ?? '/', 'http://x').pathname;
    const name = pathname === '/' ? 'index.html' : pathname.slice(1);
    const known = /^[a-z]+\.(html|js)$/.test(name) && fs.existsSync(path.join(FIXTURES, name));
    const body = fs
      .readFileSync(path.join(FIXTURES, known ? name : 'notfound.html'), 'utf8')
      .replaceAll('{{COLLECTOR}}', collectorUrl)
      .replaceAll('{{SITE}}', SITE);
    response.writeHead(known ? 200 : 404, { 'content-type': name.endsWith('.js') ? 'text/javascript' : 'text/html; charset=utf-8' });
    response.end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Polls `done` (outside a test, where expect.poll is not available). */
async function until(done: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`still not done after ${timeoutMs} ms: ${JSON.stringify((await report(WEEK)).steps)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Journey {
  ua: string;
  referer?: string;
  daysAgo?: number;
  walk(page: Page): Promise<void>;
}

const click = async (page: Page, selector: string) => {
  await Promise.all([page.waitForEvent('framenavigated'), page.click(selector)]);
  await page.waitForLoadState('domcontentloaded');
};

const journeys: Journey[] = [
  {
    // Organic search, converts.
    ua: UA.desktop,
    referer: 'https://www.google.com/',
    walk: async (p) => {
      await p.goto(`${shopOrigin}/`, { referer: 'https://www.google.com/' });
      await click(p, '#pricing');
      await click(p, '#signup');
      await click(p, '#form button');
      await click(p, '#buy');
    },
  },
  {
    // A newsletter on a phone: reads pricing, then the about page.
    ua: UA.iphone,
    walk: async (p) => {
      await p.goto(`${shopOrigin}/?utm_source=newsletter&utm_medium=email&utm_campaign=spring`);
      await click(p, '#pricing');
      await click(p, '#about');
    },
  },
  {
    // Direct, leaves at once.
    ua: UA.firefox,
    walk: async (p) => {
      await p.goto(`${shopOrigin}/`);
    },
  },
  {
    // Social on a phone, variant B: signs up, does not buy.
    ua: UA.iphone,
    walk: async (p) => {
      await p.goto(`${shopOrigin}/?v=B`, { referer: 'https://m.facebook.com/' });
      await click(p, '#pricing');
      await click(p, '#signup');
      await click(p, '#form button');
    },
  },
  {
    // The hostile one: payloads in UTM tags, the variant, a property, the referrer and a path.
    ua: UA.desktop,
    walk: async (p) => {
      const query = new URLSearchParams({ utm_source: XSS.source, utm_campaign: XSS.campaign, v: XSS.variant, note: XSS.note });
      await p.goto(`${shopOrigin}/?${query}`, { referer: XSS.referrer });
      await click(p, '#pricing');
      await p.goto(shopOrigin + XSS.exitPath);
    },
  },
  {
    // Two days ago, from Bing: reaches pricing, then its one-day window closed.
    ua: UA.firefox,
    daysAgo: 2,
    walk: async (p) => {
      await p.goto(`${shopOrigin}/`, { referer: 'https://www.bing.com/' });
      await click(p, '#pricing');
    },
  },
];

async function report(range: { from: string; to: string }, breakdown?: string, id = 'shop-purchase'): Promise<FunnelReport> {
  const query = `from=${range.from}&to=${range.to}${breakdown ? `&breakdown=${breakdown}` : ''}`;
  const response = await collector.admin(`/api/sites/${SITE}/funnels/${id}/report?${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as FunnelReport;
}

// What the dashboard prints, formatted the way the test's en-US browser formats it.
const fmtCount = (n: number) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(n);
const fmtPct = (r: number) => new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 }).format(r);

const texts = (selector: string) => page.locator(selector).allTextContents();
const stepEntered = () => texts('.funnel .step [data-metric="entered"]');
const kpi = (key: string) => page.locator(`[data-kpi="${key}"] dd`).first().textContent();
const tableRows = async (name: string) =>
  page.locator(`table[data-table="${name}"] tbody tr`).evaluateAll((rows) =>
    rows.map((row) => Array.from(row.children, (cell) => cell.textContent ?? '')),
  );

/** Everything the summary, the bars and the drop-off rows show, from the API's report. */
function expectedScreen(r: FunnelReport) {
  return {
    entered: fmtCount(r.entered),
    converted: fmtCount(r.converted),
    conversion: fmtPct(r.conversion_rate),
    close: fmtPct(r.close_rate),
    steps: r.steps.map((s) => fmtCount(s.entered)),
    exited: r.steps.slice(0, -1).map((s) => fmtCount(s.exited)),
    inFlight: r.steps.slice(0, -1).map((s) => fmtCount(s.in_flight)),
    gone: r.steps.slice(0, -1).map((s) => fmtCount(s.exited - s.in_flight)),
  };
}

async function screen() {
  return {
    entered: await kpi('entered'),
    converted: await kpi('converted'),
    conversion: await kpi('conversion-rate'),
    close: await kpi('close-rate'),
    steps: await stepEntered(),
    exited: await texts('.funnel .drop [data-metric="exited"]'),
    inFlight: await texts('.funnel .drop [data-metric="in-flight"]'),
    gone: await texts('.funnel .drop [data-metric="gone"]'),
  };
}

beforeAll(async () => {
  collector = await startCollector({ acceptAutomatedBrowsers: true });
  [shop, browser] = await Promise.all([startShop(collector.url), launchChromium()]);
  const address = shop.address();
  shopOrigin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  expect((await collector.admin('/api/sites', { body: { domain: SITE, origins: [shopOrigin] } })).status).toBe(201);

  // Every journey in its own browser context: a visitor of its own (data-persist="visitor").
  const contexts = await Promise.all(
    journeys.map(async (journey) => {
      const ctx = await browser.newContext({ userAgent: journey.ua });
      if (journey.daysAgo) {
        await ctx.addInitScript(`{ const now = Date.now; Date.now = () => now() - ${journey.daysAgo * DAY}; }`);
      }
      await journey.walk(await ctx.newPage());
      return ctx;
    }),
  );
  expect((await collector.admin(`/api/sites/${SITE}/funnels/shop-purchase`, { method: 'PUT', body: FUNNEL })).status).toBe(201);
  // Pages stay open until every event is stored: the funnel is retroactive.
  await until(async () => (await report(WEEK)).steps.map((s) => s.entered).join() === '6,5,2,1', 15_000);
  await Promise.all(contexts.map((ctx) => ctx.close()));

  context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'en-US', acceptDownloads: true });
  page = await context.newPage();
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => shop?.close(resolve));
  await collector?.close();
});

describe('dashboard', () => {
  it('is served light, with a strict Content-Security-Policy', async () => {
    const response = await fetch(`${collector.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain('unsafe');
    const html = await response.text();
    expect(html).not.toMatch(/<script>|<style|style=/); // nothing inline: the CSP would refuse it
    const { js } = await buildDashboard();
    expect(gzipSync(js, { level: 9 }).length).toBeLessThanOrEqual(JS_BUDGET_GZIP);
    // The page names the script by version; the script comes gzipped, with an ETag that revalidates.
    const scriptUrl = /src="(\/dashboard\.js\?v=[\w-]+)"/.exec(html)?.[1];
    expect(scriptUrl).toBeDefined();
    const script = await fetch(collector.url + scriptUrl, { headers: { 'accept-encoding': 'gzip' } });
    expect(script.headers.get('content-encoding')).toBe('gzip');
    expect(await script.text()).toBe(js);
    const etag = script.headers.get('etag')!;
    expect((await fetch(collector.url + scriptUrl, { headers: { 'if-none-match': etag } })).status).toBe(304);
    // The API is not open without the token.
    expect((await fetch(`${collector.url}/api/sites`)).status).toBe(401);
  });

  it('signs in with the admin token, kept for the session and never in the URL', async () => {
    await page.goto(`${collector.url}/`);
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('not the admin token');

    await page.getByLabel('Admin token').fill(collector.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(page.url()).not.toContain(collector.token);
    expect(await page.evaluate(() => sessionStorage.getItem('funnelbeam.adminToken'))).toBe(collector.token);
    expect(await page.getByLabel('Site').inputValue()).toBe(SITE);
  });

  it('shows the funnel of the picked range with the numbers of the report API', async () => {
    await page.getByRole('combobox', { name: 'Funnel', exact: true }).selectOption({ label: 'Shop purchase' });
    await page.getByLabel('Date range (UTC)').selectOption('today');
    const today = await report(TODAY);
    expect(today.steps.map((s) => s.entered)).toEqual([5, 4, 2, 1]);
    await expect.poll(screen).toEqual(expectedScreen(today));
    expect(await kpi('revenue')).toBe('$49.00');
    // The table says what the bars show.
    const rows = await tableRows('steps');
    expect(rows.map((row) => [row[0], row[1], row[3], row[6]])).toEqual(
      today.steps.map((s, k) => [`${k + 1}. ${s.name}`, fmtCount(s.entered), fmtCount(s.exited), fmtCount(s.in_flight)]),
    );

    // Seven days take in the journey of two days ago: the numbers change, still the API's.
    await page.getByLabel('Date range (UTC)').selectOption('7d');
    const week = await report(WEEK);
    expect(week.steps.map((s) => s.entered)).toEqual([6, 5, 2, 1]);
    await expect.poll(screen).toEqual(expectedScreen(week));
    expect(week.steps[1].exited - week.steps[1].in_flight).toBeGreaterThan(0); // its window closed: gone

    // A custom range of only that day.
    await page.getByLabel('Date range (UTC)').selectOption('custom');
    await page.getByRole('textbox', { name: 'From', exact: true }).fill(utcDay(-2));
    await page.getByRole('textbox', { name: 'To', exact: true }).fill(utcDay(-2));
    const thatDay = await report({ from: utcDay(-2), to: utcDay(-2) });
    expect(thatDay.steps.map((s) => s.entered)).toEqual([1, 1, 0, 0]);
    await expect.poll(screen).toEqual(expectedScreen(thatDay));
    await page.getByLabel('Date range (UTC)').selectOption('7d');
    await expect.poll(screen).toEqual(expectedScreen(week));
  });

  it('breaks the funnel down with the numbers of the report API', async () => {
    for (const dimension of ['device', 'channel', 'variant']) {
      await page.getByRole('combobox', { name: 'Breakdown' }).selectOption(dimension);
      const api = await report(WEEK, dimension);
      expect(api.breakdown.length).toBeGreaterThan(1);
      await expect
        .poll(() => tableRows('breakdown'))
        .toEqual(api.breakdown.map((cell) => [cell.key ?? '(none)', ...cell.steps.map((s) => fmtCount(s.entered)), fmtPct(cell.conversion_rate)]));
    }
  });

  it('shows where the leavers of a step went and the entry sources, on click', async () => {
    const api = await report(WEEK, 'variant');
    // With the keyboard: the step is a button, and the detail takes the focus.
    await page.locator('.funnel .step[data-step="1"] .step-name').focus();
    await page.keyboard.press('Enter');
    await page.locator('#step-detail').waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('step-detail');
    expect(await page.locator('.funnel .step[data-step="1"] .step-name').getAttribute('aria-expanded')).toBe('true');
    const pricing = api.steps[1];
    expect(await tableRows('exits')).toEqual(
      pricing.exits_to.map((exit) => [exit.path === null ? 'Left the site' : decodeURIComponent(exit.path), fmtCount(exit.count), fmtPct(exit.count / pricing.exited)]),
    );
    expect(await tableRows('sources')).toEqual(
      api.sources.map((s) => [s.channel, s.source ?? '(none)', fmtCount(s.entered), fmtCount(s.converted), fmtPct(s.conversion_rate)]),
    );
    expect(api.sources.map((s) => s.source)).toEqual(expect.arrayContaining(['google', 'newsletter', 'bing']));
    // The same entries split by campaign: a journey without utm_campaign shows "(none)", like a source.
    expect(await tableRows('campaigns')).toEqual(
      api.campaigns.map((c) => [c.channel, c.source ?? '(none)', c.campaign ?? '(none)', fmtCount(c.entered), fmtCount(c.converted), fmtPct(c.conversion_rate)]),
    );
    expect(api.campaigns.map((c) => [c.source, c.campaign])).toEqual(expect.arrayContaining([['newsletter', 'spring'], ['google', null]]));
  });

  it('renders markup from events as inert text', async () => {
    const api = await report(WEEK, 'variant');
    // The payloads went through the collector as they were sent…
    expect(api.sources.map((s) => s.source)).toContain(XSS.source);
    expect(api.breakdown.map((cell) => cell.key)).toContain(XSS.variant);
    const stored = api.steps[1].exits_to.find((exit) => exit.path?.includes('onerror'))?.path;
    expect(stored).toBeDefined();
    // (the stored path is percent-encoded; the dashboard decodes it for reading: raw markup, as text)
    const exitPath = decodeURIComponent(stored!);
    expect(exitPath).toBe(XSS.exitPath);
    // …and the page shows them as text: the exact characters, and no element or script from them.
    const cells = await page.locator('#app table th, #app table td').allTextContents();
    expect(api.campaigns.map((c) => c.campaign)).toContain(XSS.campaign);
    expect(cells).toEqual(expect.arrayContaining([XSS.source, XSS.campaign, XSS.variant, exitPath]));
    expect(await page.locator('#app img, #app script, #app [onerror]').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __xss?: unknown }).__xss)).toBeUndefined();
    expect(dialogs).toEqual([]);
  });

  it('exports the report as CSV', async () => {
    const api = await report(WEEK, 'variant');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename()).toBe(`shop-purchase_${WEEK.from}_${WEEK.to}_by-variant.csv`);
    const lines = fs.readFileSync(await download.path(), 'utf8').trim().split('\r\n');
    expect(lines[0]).toBe('breakdown,step_number,step,entered,exited,in_flight,gone,exit_rate,time_to_next_median_ms,time_to_next_p90_ms,engaged_ms_median');
    api.steps.forEach((s, k) => {
      expect(lines[k + 1].split(',').slice(0, 7)).toEqual(['(all)', String(k + 1), s.name, String(s.entered), String(s.exited), String(s.in_flight), String(s.exited - s.in_flight)]);
    });
    expect(lines).toHaveLength(1 + api.steps.length * (1 + api.breakdown.length));
    // A payload stays data in a spreadsheet too: quoted where needed, never a formula.
    expect(lines.some((line) => line.startsWith(`"variant: ${XSS.variant.replaceAll('"', '""')}"`))).toBe(true);
  });

  it('takes screenshots at laptop and phone width', async () => {
    await page.getByRole('combobox', { name: 'Breakdown' }).selectOption('channel');
    await expect.poll(() => tableRows('breakdown')).toHaveLength((await report(WEEK, 'channel')).breakdown.length);
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.mouse.move(0, 0);
    await page.evaluate(() => {
      (document.activeElement as HTMLElement | null)?.blur();
      window.scrollTo(0, 0);
    });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-laptop.png') });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-laptop-full.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    // The trend is drawn again for the narrower screen, so its labels keep their size.
    await expect.poll(() => page.locator('svg.trend').getAttribute('viewBox')).toMatch(/^0 0 3\d\d /);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-phone.png') });
    // Nothing wider than the phone: no sideways scrolling of the page.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1366, height: 900 });
  });

  it('creates a funnel in the editor, previews it, saves it, and it reports', async () => {
    await page.getByRole('button', { name: 'Funnels', exact: true }).click();
    await page.getByRole('button', { name: '+ New funnel' }).click();
    await page.getByLabel('Funnel name').fill('Pricing to purchase');
    const step = (n: number) => page.locator('.step-edit').nth(n);
    await step(0).getByLabel('Step name').fill('Pricing');
    await step(0).getByLabel('Page path').fill('/pricing*');
    await page.getByRole('button', { name: '+ Add step' }).click();
    await step(2).getByLabel('Step name').fill('Purchase');
    await step(2).getByLabel('Event').fill('purchase');
    // Reorder with the keyboard: Purchase up above Signup, then back down.
    await page.getByRole('button', { name: 'Move step 3 up' }).focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('.step-edit [data-control="name"]').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).value))).toEqual(['Pricing', 'Purchase', 'Signup']);
    await page.getByRole('button', { name: 'Move step 2 down' }).click();
    expect(await page.locator('.step-edit [data-control="name"]').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).value))).toEqual(['Pricing', 'Signup', 'Purchase']);

    const definition = {
      name: 'Pricing to purchase',
      window: '7d',
      steps: [
        { name: 'Pricing', event: 'pageview', path: '/pricing*' },
        { name: 'Signup', event: 'signup' },
        { name: 'Purchase', event: 'purchase' },
      ],
    };
    const preview = (await (await collector.admin(`/api/sites/${SITE}/funnels/preview?from=${WEEK.from}&to=${WEEK.to}`, { body: definition })).json()) as FunnelReport;
    expect(preview.steps.map((s) => s.entered)).toEqual([5, 2, 1]);
    await page.getByRole('button', { name: 'Preview counts' }).click();
    // Generous: with other browser tests on the two cores, the preview can take over a second.
    await expect
      .poll(() => page.locator('.preview-steps strong').allTextContents(), { timeout: 10_000 })
      .toEqual(preview.steps.map((s) => fmtCount(s.entered)));

    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-editor-laptop.png'), fullPage: true });

    await page.getByRole('button', { name: 'Save funnel' }).click();
    await expect.poll(() => page.getByRole('combobox', { name: 'Funnel', exact: true }).inputValue(), { timeout: 10_000 }).toBe('pricing-to-purchase');
    const stored = (await (await collector.admin(`/api/sites/${SITE}/funnels/pricing-to-purchase`)).json()) as { steps: unknown };
    expect(stored.steps).toEqual(definition.steps);
    const saved = await report(WEEK, 'channel', 'pricing-to-purchase');
    await expect.poll(screen).toEqual(expectedScreen(saved));
  });

  it('shows the script tag to copy and saves the allowed origins', async () => {
    await page.getByRole('button', { name: 'Site settings' }).click();
    expect(await page.getByLabel('Script tag to copy').inputValue()).toBe(`<script defer data-site="${SITE}" src="${collector.url}/f.js"></script>`);
    const origins = page.getByLabel('Allowed origins');
    expect(await origins.inputValue()).toBe(shopOrigin);
    await origins.fill(`${shopOrigin}\nhttps://shop.fixture.test`);
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect
      .poll(async () => ((await (await collector.admin(`/api/sites/${SITE}`)).json()) as { origins: string[] }).origins)
      .toEqual([shopOrigin, 'https://shop.fixture.test']);
    await expect.poll(() => page.locator('p.status').textContent()).toBe(`Settings of ${SITE} saved.`);
  });

  it('returns to the sign-in form when the token is refused', async () => {
    await page.evaluate(() => sessionStorage.setItem('funnelbeam.adminToken', 'revoked'));
    await page.reload();
    await page.getByLabel('Admin token').waitFor();
    expect(await page.getByRole('alert').first().textContent()).toContain('sign in again');
    expect(await page.evaluate(() => sessionStorage.getItem('funnelbeam.adminToken'))).toBeNull();
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
