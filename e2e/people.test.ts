// Who dropped, and why, in Chromium against a real collector fed through POST /api/event: a
// step's gone, in-flight and converted counts open the people list (every page of it is the
// API's /people, unit for unit), a person opens their journey (the API's events, in order), and
// the "why" panel says the API's factors in words, for the funnel and for a picked step.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, signedInDashboard } from '../test-support/browser.js';
import { startCollector, type RunningCollector } from '../test-support/collector.js';
import type { Factor, Person } from '../dashboard/src/api.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// Pictures for a look, not compared; never into the committed screenshots.
const SCREENSHOTS = path.resolve(here, '../test-results/screenshots');
const SITE = 'people.fixture.test';
const DAY = 86_400_000;
const now = Date.now();
const utcDay = (offset = 0) => new Date(now + offset * DAY).toISOString().slice(0, 10);
const WEEK = `from=${utcDay(-6)}&to=${utcDay()}`;
/** Yesterday's noon: those entries' one-hour windows are closed. */
const YESTERDAY_AT = Date.parse(`${utcDay()}T00:00:00Z`) - 12 * 3_600_000;
/** Five minutes ago: those windows are open, in flight. */
const RECENT_AT = now - 5 * 60_000;
const FUNNEL = {
  name: 'Deal purchase',
  window: '1h',
  steps: [
    { name: 'Landing', event: 'pageview', path: '/' },
    { name: 'Deal', event: 'pageview', path: '/deals/*' },
    { name: 'Purchase', event: 'purchase' },
  ],
};

// What the dashboard prints, the way the test's en-US browser formats it.
const fmtCount = (n: number) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(n);
const fmtTimes = (r: number) => `${new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(r)}×`;
const utcTime = (iso: string, seconds = false) => iso.slice(0, seconds ? 19 : 16).replace('T', ' ');

interface Report {
  steps: { name: string; entered: number; exited: number; in_flight: number }[];
  converted: number;
}

let collector: RunningCollector;
let browser: Browser;
let page: Page;
const problems: string[] = [];
let serial = 0;

const send = (events: object[]) => collector.sendEvents(events);

/**
 * `count` visitors landing at `at` (from `query`), of whom the first `deal` open a deal and the
 * first `buy` of those buy; the others who land look at /about instead. `lead`: the first two are leads.
 */
function visitors(prefix: string, count: number, at: number, query: string, deal: number, buy: number, lead = false): object[] {
  return Array.from({ length: count }, (_, i) => {
    const base = { site: SITE, visitor: `${prefix}-${i}`, ...(lead && i < 2 ? { lead: `crm-${prefix}-${i}` } : {}) };
    const event = (name: string, pathname: string, offset: number, extra = {}) =>
      ({ ...base, name, url: `https://${SITE}${pathname}`, id: `e${serial++}`, ts: at + i * 10 + offset, ...extra });
    const journey = [event('pageview', `/${query}`, 0)];
    if (i < deal) journey.push(event('pageview', '/deals/spa', 60_000));
    else journey.push(event('pageview', '/about', 30_000));
    if (i < buy) journey.push(event('purchase', '/deals/spa', 120_000, { revenue: { amount: 49, currency: 'USD' } }));
    return journey;
  }).flat();
}

async function api(pathname: string, body?: unknown, method?: string): Promise<{ status: number; body: any }> {
  const reply = await collector.admin(pathname, { body, method });
  return { status: reply.status, body: reply.status === 204 ? null : await reply.json() };
}

async function report(): Promise<Report> {
  const { status, body } = await api(`/api/sites/${SITE}/funnels/deal-purchase/report?${WEEK}`);
  expect(status).toBe(200);
  return body as Report;
}

/** Every page of the API's people list. */
async function apiPeople(query: string): Promise<Person[]> {
  const people: Person[] = [];
  let cursor: string | null = null;
  do {
    const { status, body } = await api(`/api/sites/${SITE}/funnels/deal-purchase/people?${WEEK}&${query}&limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(status).toBe(200);
    people.push(...(body.people as Person[]));
    cursor = body.next_cursor;
  } while (cursor);
  return people;
}

async function correlation(step?: number): Promise<{ went_on: number; stopped: number; factors: Factor[] }> {
  const { status, body } = await api(`/api/sites/${SITE}/funnels/deal-purchase/correlation?${WEEK}${step ? `&step=${step}` : ''}`);
  expect(status).toBe(200);
  return body;
}

const shownUnits = () => page.locator('#people .person-open').evaluateAll((buttons) => buttons.map((b) => (b as HTMLElement).dataset.unit ?? ''));
const tableRows = (name: string) =>
  page.locator(`table[data-table="${name}"] tbody tr`).evaluateAll((rows) => rows.map((row) => Array.from(row.children, (cell) => cell.textContent ?? '')));

/** Opens the list of a count of the steps table, pages through it with More, and returns the units shown. */
async function openPeople(step: number, status: string): Promise<string[]> {
  await page.locator(`table[data-table="steps"] [data-people-step="${step}"][data-people-status="${status}"]`).click();
  await page.locator(`#people[data-people-step="${step}"][data-people-status="${status}"]`).waitFor();
  for (;;) {
    await expect.poll(() => page.locator('#people [aria-busy]').first().getAttribute('aria-busy')).toBe('false');
    const more = page.locator('#people').getByRole('button', { name: 'More' });
    if (!(await more.count())) return shownUnits();
    await more.click();
  }
}

/** The factor's words as the panel says them, from the API's numbers. */
function howOften(factor: Factor, verb: string): string {
  const ratio = factor.rate_ratio;
  if (ratio === null) return factor.went_on ? `${verb}, and none of the others did` : `never ${verb}, nor did the others`;
  if (ratio === 0) return `never ${verb}`;
  const text = fmtTimes(ratio >= 1 ? ratio : 1 / ratio);
  if (text === fmtTimes(1)) return `${verb} about as often as the others`;
  return `${verb} ${text} ${ratio >= 1 ? 'more' : 'less'} often`;
}

const shownFactors = () =>
  page.locator('#why .factor').evaluateAll((items) => items.map((item) => ({
    kind: (item as HTMLElement).dataset.factorKind,
    value: (item as HTMLElement).dataset.factorValue,
    how: item.querySelector('.factor-how')?.textContent,
    significant: item.querySelector('.sig')?.textContent,
  })));
const expectedFactors = (factors: Factor[], verb: string) =>
  factors.slice(0, 8).map((f) => ({ kind: f.kind, value: f.value, how: howOften(f, verb), significant: f.p_value < 0.05 ? 'significant' : 'not significant' }));

beforeAll(async () => {
  [collector, browser] = await Promise.all([startCollector(), launchChromium()]);
  expect((await api('/api/sites', { domain: SITE })).status).toBe(201);
  // The newsletter's visitors buy far more often than the others; 52 leave at the landing page
  // with their window closed (more than a page of 50), 6 have just landed (in flight).
  await send([
    ...visitors('news', 20, YESTERDAY_AT, '?utm_source=newsletter&utm_medium=email&utm_campaign=spring', 15, 12, true),
    ...visitors('other', 60, YESTERDAY_AT + 1000, '', 13, 3),
    ...visitors('fresh', 6, RECENT_AT, '', 0, 0),
  ]);
  expect((await api(`/api/sites/${SITE}/funnels/deal-purchase`, FUNNEL, 'PUT')).status).toBe(201);
  await collector.app.store.settled();

  page = await signedInDashboard(browser, collector.url, collector.token, problems);
  await page.getByLabel('Date range (UTC)').selectOption('7d');
  await page.locator('table[data-table="steps"] .people-open').first().waitFor();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await collector?.close();
});

describe('who dropped, and why, in the dashboard', () => {
  it('lists who left a step as the API does, every page of it, adding up to the report’s count', async () => {
    const r = await report();
    const gone = r.steps[0].exited - r.steps[0].in_flight;
    expect(gone).toBe(52); // the fixture: more than a page

    const expected = await apiPeople('step=1&status=dropped');
    expect(expected).toHaveLength(gone);
    const units = await openPeople(1, 'dropped');
    expect(units).toEqual(expected.map((p) => p.unit));
    expect(await page.locator('#people [data-people-shown]').textContent()).toBe(`${fmtCount(gone)} of ${fmtCount(gone)}`);

    // Each row is the API's: entered, furthest step, last seen, entry source, exit page.
    const rows = await tableRows('people');
    expect(rows.map((row) => row.slice(1))).toEqual(expected.map((p) => [
      utcTime(p.entered_at),
      `${p.furthest_step}. ${r.steps[p.furthest_step - 1].name}`,
      utcTime(p.last_seen),
      p.channel ?? '(none)',
      p.source ?? '(none)',
      p.campaign ?? '(none)',
      p.exit_path ?? (p.furthest_step < r.steps.length ? 'Left the site' : '–'),
    ]));
    expect(expected.some((p) => p.exit_path === '/about')).toBe(true);

    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.locator('#people').screenshot({ path: path.join(SCREENSHOTS, 'dashboard-people-laptop.png') });
  });

  it('lists the in-flight and the converted of the report as the API does', async () => {
    const r = await report();
    const inFlight = await apiPeople('step=1&status=in_flight');
    expect(inFlight).toHaveLength(r.steps[0].in_flight);
    expect(inFlight.length).toBeGreaterThan(0);
    expect(await openPeople(1, 'in_flight')).toEqual(inFlight.map((p) => p.unit));

    const last = r.steps.length;
    const converted = await apiPeople('status=converted');
    expect(converted).toHaveLength(r.steps[last - 1].entered);
    expect(converted.length).toBeGreaterThan(0);
    expect(await openPeople(last, 'converted')).toEqual(converted.map((p) => p.unit));
    // A lead is named as one.
    expect(converted.some((p) => p.unit.startsWith('lead:'))).toBe(true);
  });

  it('opens a person’s journey: the API’s events in order', async () => {
    // The converted list (the test before opens it; alone, this one does).
    if (!(await page.locator('#people[data-people-status="converted"]').count())) await openPeople(FUNNEL.steps.length, 'converted');
    const units = await shownUnits();
    expect(units.length).toBeGreaterThan(0);
    const unit = units.find((u) => u.startsWith('lead:')) ?? units[0];
    const { status, body } = await api(`/api/sites/${SITE}/visitors/${encodeURIComponent(unit)}/events?limit=200`);
    expect(status).toBe(200);
    const events = body.events as { ts: string; name: string; path: string }[];
    expect(events.length).toBeGreaterThanOrEqual(FUNNEL.steps.length);

    const person = page.locator(`#people .person-open[data-unit="${unit}"]`);
    await person.click();
    await page.locator(`#journey[data-unit="${unit}"] table[data-table="journey"]`).waitFor();
    expect(await person.getAttribute('aria-expanded')).toBe('true');
    expect((await tableRows('journey')).map((row) => row.slice(0, 3))).toEqual(events.map((e) => [utcTime(e.ts, true), e.name, e.path]));
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('journey');
    await page.locator('#journey').screenshot({ path: path.join(SCREENSHOTS, 'dashboard-journey-laptop.png') });

    // Escape closes the journey (not the list) and gives the focus back to the person.
    await page.keyboard.press('Escape');
    expect(await page.locator('#journey').count()).toBe(0);
    expect(await page.locator('#people').count()).toBe(1);
    expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.unit)).toBe(unit);
  });

  it('says the API’s factors in words in the “why” panel, for the funnel and for a step', async () => {
    const funnel = await correlation();
    const newsletter = funnel.factors.find((f) => f.kind === 'source' && f.value === 'newsletter');
    expect(newsletter).toBeDefined();
    expect(newsletter!.rate_ratio!).toBeGreaterThan(1);
    expect(newsletter!.p_value).toBeLessThan(0.05);
    await expect.poll(shownFactors).toEqual(expectedFactors(funnel.factors, 'converted'));
    const item = page.locator('#why .factor[data-factor-kind="source"][data-factor-value="newsletter"]');
    expect(await item.locator('.factor-text').textContent()).toBe(`Visitors from newsletter (source) ${howOften(newsletter!, 'converted')} significant`);
    expect(await page.locator('#why-title').textContent()).toBe('Why they converted');
    await page.locator('#why').screenshot({ path: path.join(SCREENSHOTS, 'dashboard-why-laptop.png') });

    // Step 2 picked: who went on from it to the purchase.
    const step = await correlation(2);
    expect(step.factors.length).toBeGreaterThan(0);
    await page.locator('[data-step="1"] .step-name').click();
    await expect.poll(() => page.locator('#why-title').textContent()).toBe('Why they went on from step 2');
    await expect.poll(shownFactors).toEqual(expectedFactors(step.factors, 'went on'));
  });

  it('ran without a page error or a CSP violation', () => {
    expect(problems).toEqual([]);
  });
});
