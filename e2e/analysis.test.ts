// The dashboard's analysis in Chromium, against a real collector fed through POST /api/event:
// an A/B test (two variant cohorts) read as a table and a verdict, the summary's change against
// the range just before, the funnel editor's order, step time limits and exclusions, saved and
// refused as the API says, and the time to convert as a histogram. Every figure on screen is
// compared with the API's.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, signedInDashboard } from '../test-support/browser.js';
import { startCollector, type RunningCollector } from '../test-support/collector.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// Pictures for a look, not compared; never into the committed screenshots.
const SCREENSHOTS = path.resolve(here, '../test-results/screenshots');
const SITE = 'ab.fixture.test';
/** A site of its own for the time to convert, so its conversions change no other test's numbers. */
const TTC_SITE = 'ttc.fixture.test';
/** How long after landing each of its converting visitors signs up: 20 s to 55 min. */
const TTC_DELAYS = [20_000, 120_000, 180_000, 240_000, 600_000, 720_000, 2_400_000, 3_300_000];
const DAY = 86_400_000;
const now = Date.now();
const utcDay = (offset = 0) => new Date(now + offset * DAY).toISOString().slice(0, 10);
const startOfToday = Date.parse(`${utcDay()}T00:00:00Z`);
// Inside today whatever the hour (and never in the future), and yesterday's noon.
const TODAY_AT = startOfToday + Math.floor((now - startOfToday) / 2);
const YESTERDAY_AT = startOfToday - 12 * 3_600_000;
const noonDaysAgo = (days: number) => startOfToday - days * DAY + 12 * 3_600_000;
const TODAY = `from=${utcDay()}&to=${utcDay()}`;
const WEEK = `from=${utcDay(-6)}&to=${utcDay()}`;
const FUNNEL = { name: 'Signup', window: '1h', steps: [{ name: 'Landing', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup' }] };

// What the dashboard prints, formatted the way the test's en-US browser formats it.
const fmtCount = (n: number) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(n);
const fmtPct = (r: number) => new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 }).format(r);
const fmtSignedPct = (r: number) => new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 0, signDisplay: 'exceptZero' }).format(r);
const fmtPoints = (d: number) => `${new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, signDisplay: 'exceptZero' }).format(d * 100)} pts`;
const fmtDuration = (ms: number) => {
  const round1 = (n: number) => (n < 10 ? n.toFixed(1).replace(/\.0$/, '') : String(Math.round(n)));
  const s = ms / 1000;
  return s < 60 ? `${Math.round(s)} s` : s < 3600 ? `${round1(s / 60)} min` : s < 86_400 ? `${round1(s / 3600)} h` : `${round1(s / 86_400)} d`;
};
const fmtP = (p: number) => (p < 0.0001 ? '< 0.0001' : new Intl.NumberFormat('en-US', { maximumSignificantDigits: 2 }).format(p));

interface Variant {
  variant: string | null;
  entered: number;
  converted: number;
  conversion_rate: number;
  ci95: [number, number];
  vs_control: { uplift: number | null; p_value: number; significant: boolean } | null;
}
interface Report {
  entered: number;
  converted: number;
  conversion_rate: number;
  close_rate: number;
  excluded?: number;
  steps: { entered: number }[];
  variants?: Variant[];
  previous?: Report;
  time_to_convert: { median: number; p90: number; histogram: { from_ms: number; to_ms: number; count: number }[] } | null;
}

let collector: RunningCollector;
let browser: Browser;
let page: Page;
const problems: string[] = [];
let serial = 0;

const send = (events: object[]) => collector.sendEvents(events);

/** `visitors` landings on a variant's page at `at`, the first `converting` of them signing up a minute later. */
async function cohort(variant: string, visitors: number, converting: number, at: number): Promise<void> {
  await send(Array.from({ length: visitors }, (_, i) => {
    const landing = { site: SITE, name: 'pageview', url: `https://${SITE}/`, visitor: `${variant}-${at}-${i}`, variant, id: `e${serial++}`, ts: at + i };
    return i < converting ? [landing, { ...landing, name: 'signup', id: `e${serial++}`, ts: at + i + 60_000 }] : [landing];
  }).flat());
}

async function api(pathname: string, body?: unknown, method?: string): Promise<{ status: number; body: any }> {
  const reply = await collector.admin(pathname, { body, method });
  return { status: reply.status, body: reply.status === 204 ? null : await reply.json() };
}

async function report(funnel: string, query: string, site = SITE): Promise<Report> {
  const { status, body } = await api(`/api/sites/${site}/funnels/${funnel}/report?${query}&compare=previous`);
  expect(status).toBe(200);
  return body as Report;
}

const tableRows = (name: string) =>
  page.locator(`table[data-table="${name}"] tbody tr`).evaluateAll((rows) => rows.map((row) => Array.from(row.children, (cell) => cell.textContent ?? '')));
const kpiChange = (key: string) => page.locator(`[data-kpi="${key}"] dd.change`).textContent();
const kpiValue = (key: string) => page.locator(`[data-kpi="${key}"] dd`).first().textContent();

/** The change line under each figure, from the API's report and its `previous`. */
function expectedChanges(r: Report, period: string) {
  const before = r.previous!;
  const counted = (now: number, then: number) =>
    then === 0 ? (now ? `new: none in the ${period}` : `none in the ${period} either`) : `${fmtSignedPct(now / then - 1)} vs ${period}`;
  const rate = (now: number, then: number, base: number, baseThen: number) =>
    baseThen === 0 ? (base ? `new: none in the ${period}` : `none in the ${period} either`) : `${fmtPoints(now - then)} vs ${period}`;
  const penultimate = (x: Report) => x.steps[x.steps.length - 2].entered;
  return {
    entered: counted(r.entered, before.entered),
    converted: counted(r.converted, before.converted),
    conversion: rate(r.conversion_rate, before.conversion_rate, r.entered, before.entered),
    close: rate(r.close_rate, before.close_rate, penultimate(r), penultimate(before)),
  };
}

async function shownChanges() {
  return {
    entered: await kpiChange('entered'),
    converted: await kpiChange('converted'),
    conversion: await kpiChange('conversion-rate'),
    close: await kpiChange('close-rate'),
  };
}

beforeAll(async () => {
  [collector, browser] = await Promise.all([startCollector(), launchChromium()]);
  expect((await api('/api/sites', { domain: SITE })).status).toBe(201);
  await cohort('A', 40, 8, TODAY_AT);
  await cohort('B', 40, 20, TODAY_AT);
  // A smaller cohort yesterday: the previous day of "Today".
  await cohort('A', 10, 5, YESTERDAY_AT);
  // Two smaller tests on days of their own: one too small to tell, one large enough and even.
  await cohort('E', 30, 10, noonDaysAgo(2));
  await cohort('F', 30, 12, noonDaysAgo(2));
  await cohort('C', 5, 1, noonDaysAgo(3));
  await cohort('D', 6, 3, noonDaysAgo(3));
  expect((await api(`/api/sites/${SITE}/funnels/signup`, FUNNEL, 'PUT')).status).toBe(201);
  // Yesterday on the second site: the first eight land and sign up after TTC_DELAYS, two never do.
  expect((await api('/api/sites', { domain: TTC_SITE })).status).toBe(201);
  await send(Array.from({ length: 10 }, (_, i) => {
    const landing = { site: TTC_SITE, name: 'pageview', url: `https://${TTC_SITE}/`, visitor: `ttc-${i}`, id: `t${serial++}`, ts: YESTERDAY_AT + i };
    return i < TTC_DELAYS.length ? [landing, { ...landing, name: 'signup', id: `t${serial++}`, ts: landing.ts + TTC_DELAYS[i] }] : [landing];
  }).flat());
  expect((await api(`/api/sites/${TTC_SITE}/funnels/signup`, FUNNEL, 'PUT')).status).toBe(201);
  await collector.app.store.settled();

  page = await signedInDashboard(browser, collector.url, collector.token, problems);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await collector?.close();
});

describe('analysis in the dashboard', () => {
  it('shows the variants with the API’s numbers, and says B converts significantly better', async () => {
    await page.getByLabel('Date range (UTC)').selectOption('today');
    await page.getByRole('combobox', { name: 'Breakdown' }).selectOption('variant');
    const api = await report('signup', `${TODAY}&breakdown=variant`);
    const variants = api.variants!;
    const a = variants.find((v) => v.variant === 'A')!;
    const b = variants.find((v) => v.variant === 'B')!;
    expect([a.entered, a.converted, b.entered, b.converted]).toEqual([40, 8, 40, 20]);
    expect(a.vs_control).toBeNull();
    expect(b.vs_control!.significant).toBe(true);

    await expect.poll(() => tableRows('variants')).toEqual(variants.map((v) => [
      v.variant ?? '(none)',
      fmtCount(v.entered),
      fmtCount(v.converted),
      fmtPct(v.conversion_rate),
      `${fmtPct(v.ci95[0])} – ${fmtPct(v.ci95[1])}`,
      v.vs_control ? (v.vs_control.uplift === null ? '–' : fmtSignedPct(v.vs_control.uplift)) : 'control',
      v.vs_control ? fmtP(v.vs_control.p_value) : '–',
    ]));
    expect((await tableRows('variants')).find((row) => row[0] === 'B')!.slice(5)).toEqual(['+150%', fmtP(b.vs_control!.p_value)]);
    const ratio = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(b.conversion_rate / a.conversion_rate);
    expect(ratio).toBe('2.5');
    expect(await page.locator('.verdict').textContent()).toBe(`B converts ${ratio}× better than A, significant.`);
    expect(await page.locator('.verdict').getAttribute('data-verdict')).toBe('significant');

    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.locator('[aria-labelledby="variants-title"]').screenshot({ path: path.join(SCREENSHOTS, 'dashboard-variants-laptop.png') });
  });

  it('says when there is no winner yet, and why, on the API’s numbers', async () => {
    const day = async (offset: number) => {
      await page.getByLabel('Date range (UTC)').selectOption('custom');
      await page.getByRole('textbox', { name: 'From', exact: true }).fill(utcDay(offset));
      await page.getByRole('textbox', { name: 'To', exact: true }).fill(utcDay(offset));
      const api = await report('signup', `from=${utcDay(offset)}&to=${utcDay(offset)}&breakdown=variant`);
      await expect.poll(() => tableRows('variants').then((rows) => rows.map((row) => row.slice(0, 3)))).toEqual(
        api.variants!.map((v) => [v.variant ?? '(none)', fmtCount(v.entered), fmtCount(v.converted)]),
      );
      expect(api.variants!.some((v) => v.vs_control?.significant)).toBe(false);
      return { api, verdict: await page.locator('.verdict').textContent() };
    };
    // Yesterday: A alone.
    expect((await day(-1)).verdict).toBe('Only one variant in this range: nothing to compare it with yet.');
    // Three days ago: 5 and 6 entries.
    const small = await day(-3);
    expect(small.api.variants!.map((v) => v.entered).sort()).toEqual([5, 6]);
    expect(small.verdict).toBe('Not enough visitors yet: each variant needs at least 30 entries.');
    // Two days ago: 30 a side, 10 and 12 converting.
    const even = await day(-2);
    expect(even.api.variants!.map((v) => v.entered)).toEqual([30, 30]);
    expect(even.verdict).toBe('No significant difference yet.');
  });

  it('shows under each figure its change against the previous range, as the API’s previous implies', async () => {
    await page.getByRole('combobox', { name: 'Breakdown' }).selectOption('');
    await page.getByLabel('Date range (UTC)').selectOption('today');
    const today = await report('signup', TODAY);
    expect([today.entered, today.converted, today.previous!.entered, today.previous!.converted]).toEqual([80, 28, 10, 5]);
    await expect.poll(shownChanges).toEqual(expectedChanges(today, 'previous day'));
    // 80 against 10, 28 against 5, 35% against 50%.
    expect(await shownChanges()).toEqual({
      entered: '+700% vs previous day',
      converted: '+460% vs previous day',
      conversion: '-15 pts vs previous day',
      close: '-15 pts vs previous day',
    });
    expect(await kpiValue('entered')).toBe(fmtCount(today.entered));
    expect(await page.locator('[data-kpi="entered"] dd.change').getAttribute('data-change')).toBe('up');
    // No revenue in either range: no change to speak of.
    expect(await page.locator('[data-kpi="revenue"] dd.change').count()).toBe(0);
    await page.locator('.kpis').screenshot({ path: path.join(SCREENSHOTS, 'dashboard-change-laptop.png') });

    // Seven days: the seven before had nothing, so each figure is new.
    await page.getByLabel('Date range (UTC)').selectOption('7d');
    const week = await report('signup', WEEK);
    expect(week.previous!.entered).toBe(0);
    await expect.poll(shownChanges).toEqual(expectedChanges(week, 'previous 7 days'));
    expect(await kpiChange('entered')).toBe('new: none in the previous 7 days');
    expect(await page.locator('.kpis .excluded').count()).toBe(0); // nothing excluded: nothing said
  });

  it('saves order, a step time limit and an exclusion from the editor, exactly as the API stores them', async () => {
    // Two visitors land, then see the refund page: excluded from a funnel that excludes it.
    await send([0, 1].flatMap((i) => {
      const visitor = `refund-${i}`;
      return [
        { site: SITE, name: 'pageview', url: `https://${SITE}/`, visitor, id: `r${serial++}`, ts: TODAY_AT + 1000 + i },
        { site: SITE, name: 'pageview', url: `https://${SITE}/refund`, visitor, id: `r${serial++}`, ts: TODAY_AT + 30_000 + i },
      ];
    }));
    await page.getByLabel('Date range (UTC)').selectOption('today');
    await page.getByRole('button', { name: 'Funnels', exact: true }).click();
    await page.getByRole('button', { name: '+ New funnel' }).click();
    await page.getByLabel('Funnel name').fill('Strict signup');
    await page.getByLabel('Order', { exact: true }).selectOption({ label: 'Strictly in a row' });
    const step = (n: number) => page.locator('.step-edit').nth(n);
    expect(await step(0).getByLabel('Within').count()).toBe(0); // the first step has none
    await step(1).getByLabel('Within').fill('30m');
    await page.getByRole('button', { name: '+ Add exclusion' }).click();
    const exclusion = page.locator('.exclusion-edit').nth(0);
    await expect.poll(() => page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.control)).toBe('event');
    await exclusion.getByLabel('Excluded event').fill('pageview');
    await exclusion.getByLabel('Page path').fill('/refund*');
    await exclusion.getByLabel('After step').selectOption('1');
    await exclusion.getByLabel('Before step').selectOption('2');

    const definition = {
      name: 'Strict signup',
      window: '7d',
      order: 'strict',
      steps: [{ name: 'Landing', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup', within: '30m' }],
      exclusions: [{ event: 'pageview', path: '/refund*', between: [1, 2] }],
    };
    // The preview sends them: its counts are the API's preview of that definition.
    const preview = await api(`/api/sites/${SITE}/funnels/preview?${TODAY}`, definition);
    expect(preview.status).toBe(200);
    await page.getByRole('button', { name: 'Preview counts' }).click();
    await expect
      .poll(() => page.locator('.preview-steps strong').allTextContents(), { timeout: 10_000 })
      .toEqual(preview.body.steps.map((s: { entered: number }) => fmtCount(s.entered)));
    expect(preview.body.excluded).toBe(2);
    expect(await page.locator('.preview .excluded').textContent()).toBe(`${fmtCount(preview.body.excluded)} entries excluded.`);

    await page.locator('.editor-view').screenshot({ path: path.join(SCREENSHOTS, 'dashboard-exclusions-editor-laptop.png') });
    await page.getByRole('button', { name: 'Save funnel' }).click();
    await expect.poll(() => page.getByRole('combobox', { name: 'Funnel', exact: true }).inputValue(), { timeout: 10_000 }).toBe('strict-signup');
    const stored = await api(`/api/sites/${SITE}/funnels/strict-signup`);
    expect(stored.status).toBe(200);
    const { order, steps, exclusions, window } = stored.body;
    expect({ order, steps, exclusions, window }).toEqual({ order: definition.order, steps: definition.steps, exclusions: definition.exclusions, window: definition.window });

    // Its report says how many entries the exclusion took out.
    const saved = await report('strict-signup', TODAY);
    expect(saved.excluded).toBe(2);
    await expect.poll(() => page.locator('.kpis .excluded strong').textContent(), { timeout: 10_000 }).toBe(`${fmtCount(saved.excluded!)} entries excluded`);
    await expect.poll(() => kpiValue('entered')).toBe(fmtCount(saved.entered));
  });

  it('opens the saved fields again, and shows the API’s refusal of a bad time limit next to it', async () => {
    await page.getByRole('button', { name: 'Funnels', exact: true }).click();
    expect(await page.getByLabel('Order', { exact: true }).inputValue()).toBe('strict');
    const within = page.locator('.step-edit').nth(1).getByLabel('Within');
    expect(await within.inputValue()).toBe('30m');
    const exclusion = page.locator('.exclusion-edit').nth(0);
    expect(await exclusion.getByLabel('Excluded event').inputValue()).toBe('pageview');
    expect(await exclusion.getByLabel('Page path').inputValue()).toBe('/refund*');
    expect([await exclusion.getByLabel('After step').inputValue(), await exclusion.getByLabel('Before step').inputValue()]).toEqual(['1', '2']);

    // Longer than the funnel's window of 7 days: what the API says, it says about that field.
    await within.fill('8d');
    const refused = await api(`/api/sites/${SITE}/funnels/preview?${TODAY}`, {
      name: 'Strict signup',
      window: '7d',
      order: 'strict',
      steps: [{ name: 'Landing', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup', within: '8d' }],
      exclusions: [{ event: 'pageview', path: '/refund*', between: [1, 2] }],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.field).toBe('steps[1].within');
    await page.getByRole('button', { name: 'Save funnel' }).click();
    const note = page.locator('.step-edit').nth(1).locator('.field-error');
    await expect.poll(() => note.textContent()).toBe(refused.body.error);
    expect(await note.getAttribute('data-error-for')).toBe('steps[1].within');
    expect(await within.getAttribute('aria-invalid')).toBe('true');
    expect(await within.getAttribute('aria-describedby')).toContain(await note.getAttribute('id'));
    await expect.poll(() => page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.field)).toBe('steps[1].within');
    expect(await page.locator('form.editor > p.error').textContent()).toBe(''); // not said twice
    await page.locator('.editor-view').screenshot({ path: path.join(SCREENSHOTS, 'dashboard-field-error-laptop.png') });
    // Nothing was saved.
    expect((await api(`/api/sites/${SITE}/funnels/strict-signup`)).body.steps[1].within).toBe('30m');

    // Put right, the note goes away on the next try.
    await within.fill('20m');
    await page.getByRole('button', { name: 'Save funnel' }).click();
    await expect.poll(() => page.getByRole('combobox', { name: 'Funnel', exact: true }).inputValue(), { timeout: 10_000 }).toBe('strict-signup');
    expect((await api(`/api/sites/${SITE}/funnels/strict-signup`)).body.steps[1].within).toBe('20m');
    expect(problems).toEqual([]);
  });

  it('shows the time to convert as the API’s histogram, median and p90, and says when nobody converted', async () => {
    await page.getByRole('combobox', { name: 'Site' }).selectOption(TTC_SITE);
    const showDay = async (offset: number) => {
      await page.getByLabel('Date range (UTC)').selectOption('custom');
      await page.getByRole('textbox', { name: 'From', exact: true }).fill(utcDay(offset));
      await page.getByRole('textbox', { name: 'To', exact: true }).fill(utcDay(offset));
      return report('signup', `from=${utcDay(offset)}&to=${utcDay(offset)}`, TTC_SITE);
    };

    const { time_to_convert: ttc } = await showDay(-1);
    // The funnel's window is 1 h: the spans end there, and hold TTC_DELAYS.
    expect(ttc!.histogram.map((b) => [b.from_ms, b.to_ms, b.count])).toEqual([[0, 60_000, 1], [60_000, 300_000, 3], [300_000, 900_000, 2], [900_000, 3_600_000, 2]]);
    const labels: Record<string, string> = { '0-60000': '0–1 min', '60000-300000': '1–5 min', '300000-900000': '5–15 min', '900000-3600000': '15 min–1 h' };
    const total = ttc!.histogram.reduce((sum, b) => sum + b.count, 0);
    await expect.poll(() => tableRows('time-to-convert')).toEqual(
      ttc!.histogram.map((b) => [labels[`${b.from_ms}-${b.to_ms}`], fmtCount(b.count), fmtPct(b.count / total)]),
    );
    expect(await page.locator('.ttc-summary').textContent()).toBe(`Median ${fmtDuration(ttc!.median)} · p90 ${fmtDuration(ttc!.p90)}`);
    expect(await page.locator('.ttc-bar rect').count()).toBe(ttc!.histogram.length);
    await page.locator('.time-to-convert').screenshot({ path: path.join(SCREENSHOTS, 'dashboard-time-to-convert-laptop.png') });

    // A day without visitors: nothing to chart.
    expect((await showDay(-20)).time_to_convert).toBeNull();
    await expect.poll(() => page.locator('[data-ttc="none"]').textContent()).toBe('No conversions in this range yet.');
    expect(await page.locator('table[data-table="time-to-convert"]').count()).toBe(0);
    expect(problems).toEqual([]);
  });
});
