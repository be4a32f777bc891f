// The dashboard while a report is not whole yet, in Chromium against a real collector: a funnel
// saved over a long history shows its partial numbers and the back-fill's progress, polls, and
// turns into the full report without a reload; a collector restarting shows its warm-up and
// retries until the report comes. Nothing is mocked: the slowness is real history, written
// straight into the store first (as bench/synthetic.ts makes it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page, Request } from 'playwright-core';
import { buildApp } from '../ingest/src/app';
import { defaultConfig } from '../ingest/src/config';
import type { StoredEvent } from '../ingest/src/event';
import type { SavedFunnelReport } from '../ingest/src/store/types';
import { DEAL_FUNNEL, shopWalk, visitorOf } from '../bench/synthetic';
import { launchChromium } from '../test-support/browser';
import { startCollector, type RunningCollector } from '../test-support/collector';

// Each run writes a picture of both states here, for a look (not compared).
const SCREENSHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test-results/screenshots');
const DAY = 86_400_000;
const utcDay = (offset = 0) => new Date(Date.now() + offset * DAY).toISOString().slice(0, 10);
const TOKEN = 'test-admin-token';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** Writes `visitors` synthetic visitors (about five events each), spread evenly from `fromMs` to `toMs`. */
async function writeHistory(collector: RunningCollector, site: string, visitors: number, fromMs: number, toMs: number): Promise<number> {
  let batch: StoredEvent[] = [];
  let written = 0;
  const flush = async () => {
    await collector.app.store.write({ events: batch, bots: [] });
    written += batch.length;
    batch = [];
  };
  for (let n = 0; n < visitors; n++) {
    for (const event of shopWalk(visitorOf(site, n, fromMs + Math.floor((n / visitors) * (toMs - fromMs))), n)) {
      batch.push(event);
      if (batch.length === 10_000) await flush();
    }
  }
  await flush();
  return written;
}

async function reportOf(url: string, site: string, id: string, range: { from: string; to: string }): Promise<{ status: number; body: SavedFunnelReport }> {
  const response = await fetch(`${url}/api/sites/${site}/funnels/${id}/report?from=${range.from}&to=${range.to}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return { status: response.status, body: (await response.json()) as SavedFunnelReport };
}

/** A report request the page sent, and whether its answer was partial (once it came). */
interface Sent {
  url: string;
  at: number;
  status?: number;
  partial?: boolean;
}

/**
 * A signed-in tab (the token in sessionStorage, as after signing in), recording the report
 * requests it sends; `clockAheadMs` sets the browser's clock that far ahead of the server's.
 */
async function signedInPage(url: string, clockAheadMs?: number): Promise<{ page: Page; reports: Sent[]; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'en-US' });
  if (clockAheadMs !== undefined) await context.clock.install({ time: Date.now() + clockAheadMs });
  await context.addInitScript((token) => {
    if (!sessionStorage.getItem('funnelbeam.adminToken')) sessionStorage.setItem('funnelbeam.adminToken', token);
  }, TOKEN);
  const page = await context.newPage();
  const reports: Sent[] = [];
  const sent = new Map<Request, Sent>();
  const errors: string[] = [];
  page.on('request', (request) => {
    if (!/\/funnels\/[\w-]+\/report\?/.test(request.url())) return;
    const entry = { url: request.url(), at: Date.now() };
    reports.push(entry);
    sent.set(request, entry);
  });
  page.on('response', async (response) => {
    const entry = sent.get(response.request());
    if (!entry) return;
    entry.status = response.status();
    if (response.ok()) entry.partial = ((await response.json()) as SavedFunnelReport).backfill !== null;
  });
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) errors.push(message.text());
  });
  await page.goto(`${url}/`);
  return { page, reports, errors };
}

const fmtCount = (n: number) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(n);
const fmtPct = (r: number) => new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 }).format(r);

/** The summary and the bars, as the page shows them and as they should show a report. */
const shown = async (page: Page) => ({
  entered: await page.locator('[data-kpi="entered"] dd').first().textContent(),
  converted: await page.locator('[data-kpi="converted"] dd').first().textContent(),
  conversion: await page.locator('[data-kpi="conversion-rate"] dd').first().textContent(),
  steps: await page.locator('.funnel .step [data-metric="entered"]').allTextContents(),
});
const expected = (r: SavedFunnelReport) => ({
  entered: fmtCount(r.entered),
  converted: fmtCount(r.converted),
  conversion: fmtPct(r.conversion_rate),
  steps: r.steps.map((s) => fmtCount(s.entered)),
});
const parseCount = (text: string | null) => Number((text ?? '').replace(/,/g, ''));

describe('a funnel saved over a long history', () => {
  const SITE = 'history.test';
  // 750,000 events from 70 to 10 days ago: older than any open window, so a new funnel back-fills
  // them (about 1M events per 10 s on this 2-core machine; saving waits 3 s of it), and its report
  // stays partial for several seconds after the save.
  const VISITORS = 150_000;
  let collector: RunningCollector;

  beforeAll(async () => {
    collector = await startCollector();
    expect((await collector.admin('/api/sites', { body: { domain: SITE, origins: [`https://${SITE}`] } })).status).toBe(201);
    const events = await writeHistory(collector, SITE, VISITORS, Date.now() - 70 * DAY, Date.now() - 10 * DAY);
    expect(events).toBeGreaterThan(700_000);
  }, 120_000);
  afterAll(async () => {
    await collector?.close();
  }, 120_000);

  it('shows the partial numbers with the progress, polls, and shows the full report without a reload', async () => {
    const { page, reports, errors } = await signedInPage(collector.url);
    await page.getByRole('button', { name: 'Funnels', exact: true }).click();
    // The new funnel's default steps (landing page "/", then signup) are steps of the synthetic walk.
    await page.getByLabel('Funnel name').fill('History');
    await page.evaluate(() => ((window as { sameDocument?: boolean }).sameDocument = true));
    await page.getByRole('button', { name: 'Save funnel' }).click();

    // Saving waited 3 s for the back-fill, which goes on: the report opens partial.
    const notice = page.locator('[data-progress="backfill"]');
    await notice.waitFor({ timeout: 15_000 });
    expect(await notice.locator('.progress-title').textContent()).toMatch(/^Computing this funnel over your history… \d{1,2}%$/);
    const firstValue = Number(await notice.locator('progress').getAttribute('value'));
    expect(firstValue).toBeGreaterThan(0);
    expect(firstValue).toBeLessThan(100);
    expect(await page.getByRole('button', { name: 'Export CSV' }).isDisabled()).toBe(true);
    expect(await page.locator('.freshness').textContent()).toBe(''); // fresh_until is null while back-filling
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-backfill-laptop.png') });
    const partialEntered = parseCount(await page.locator('[data-kpi="entered"] dd').first().textContent());

    // It polls (30 days, the default range) and the progress moves on.
    const thirtyDays = `from=${utcDay(-29)}&`;
    await expect.poll(() => reports.filter((r) => r.url.includes(thirtyDays)).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    await expect
      .poll(async () => Number((await notice.locator('progress').getAttribute('value', { timeout: 500 }).catch(() => null)) ?? 100), { timeout: 10_000 })
      .toBeGreaterThan(firstValue);

    // Another range: the polling of the first one stops, the new one's goes on until the report is whole.
    await page.getByLabel('Date range (UTC)').selectOption('90d');
    const switchedAt = Date.now();
    const ninetyDays = `from=${utcDay(-89)}&`;
    await notice.waitFor({ state: 'detached', timeout: 90_000 });
    const final = await reportOf(collector.url, SITE, 'history', { from: utcDay(-89), to: utcDay() });
    expect(final.status).toBe(200);
    expect(final.body.backfill).toBeNull();
    await expect.poll(() => shown(page)).toEqual(expected(final.body));
    // What showed first was partial: fewer entries than those 30 days hold now (the open windows'
    // entries of the history's last days only count once the back-fill is done).
    expect((await reportOf(collector.url, SITE, 'history', { from: utcDay(-29), to: utcDay() })).body.entered).toBeGreaterThan(partialEntered);
    const sent = JSON.stringify(reports.map((r) => ({ ...r, url: r.url.replace(/^.*\?/, '') })));
    expect(reports.filter((r) => r.url.includes(thirtyDays) && r.at > switchedAt + 500), sent).toEqual([]);
    // Every partial answer was followed by a poll, about 2 s later (after the answer, never in a
    // tight loop); the last answer was whole.
    const ninety = reports.filter((r) => r.url.includes(ninetyDays));
    expect(ninety.map((r) => r.partial), sent).toEqual(ninety.map((_, i) => i < ninety.length - 1));
    for (let i = 1; i < ninety.length; i++) expect(ninety[i].at - ninety[i - 1].at, sent).toBeGreaterThan(1_500);
    expect(await page.evaluate(() => (window as { sameDocument?: boolean }).sameDocument)).toBe(true); // no reload
    expect(await page.getByRole('button', { name: 'Export CSV' }).isEnabled()).toBe(true);
    await expect.poll(() => page.locator('p.status').textContent()).toBe(`Report of ${utcDay(-89)} to ${utcDay()} loaded.`);

    // Whole: no more polling.
    const settled = reports.length;
    await page.waitForTimeout(4_500);
    expect(reports.length).toBe(settled);

    // Its age, on the server's clock: a laptop 10 min ahead sees the report as fresh (nothing
    // said), and 75 s later, how old it is. The same report in another tab.
    const later = await signedInPage(collector.url, 10 * 60_000);
    await later.page.locator('.funnel').waitFor();
    expect(await later.page.locator('.freshness').textContent()).toBe('');
    await later.page.clock.fastForward('01:15');
    await expect.poll(() => later.page.locator('.freshness').textContent()).toBe('Updated 1 min ago');
    expect(later.errors).toEqual([]);
    await later.page.context().close();

    // Edited (a new definition back-fills again), then left for another view: the polling stops.
    await page.getByRole('button', { name: 'Edit funnel' }).click();
    await page.getByLabel('Window', { exact: true }).fill('1d');
    await page.getByRole('button', { name: 'Save funnel' }).click();
    // Shown partial, so a poll is due within 2 s: leaving must cancel it (and any later one).
    await notice.waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Leads', exact: true }).click();
    await notice.waitFor({ state: 'detached' });
    const left = reports.length;
    await page.waitForTimeout(5_000);
    expect(reports.length).toBe(left);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 120_000);
});

describe('a collector restarting', () => {
  const SITE = 'busy.test';
  // 300,000 events of the last two days (all in open windows) and 20 funnels: after a crash (no
  // snapshot of the live journeys), restoring them takes well over the 10 s a report waits before
  // its 503 (about 24 s on this project's 2-core machine; a much faster one needs more of them).
  const VISITORS = 60_000;
  const FUNNELS = 20;
  const WEEK = { from: utcDay(-6), to: utcDay() };
  const ID = `deal-${FUNNELS - 1}`;
  let dir: string;
  let collector: RunningCollector;
  let stopped = false;
  let restarted: Awaited<ReturnType<typeof buildApp>> | null = null;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-restart-'));
    collector = await startCollector({}, dir);
    expect((await collector.admin('/api/sites', { body: { domain: SITE, origins: [`https://${SITE}`] } })).status).toBe(201);
    await writeHistory(collector, SITE, VISITORS, Date.now() - 2 * DAY, Date.now() - 60_000);
    const puts = await Promise.all(
      Array.from({ length: FUNNELS }, (_, k) =>
        collector.admin(`/api/sites/${SITE}/funnels/deal-${k}`, { method: 'PUT', body: { ...DEAL_FUNNEL, name: `Deal ${k}`, window: `${7 + k}d` } })),
    );
    expect(puts.map((r) => r.status)).toEqual(puts.map(() => 201));
  }, 120_000);
  afterAll(async () => {
    await restarted?.close();
    if (!stopped) await collector?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('shows the warm-up, retries, and shows the report once the funnels are back', async () => {
    // Every funnel counts live before the restart.
    let before: SavedFunnelReport | null = null;
    for (const deadline = Date.now() + 90_000; !before; ) {
      const answer = await reportOf(collector.url, SITE, ID, WEEK);
      if (answer.status === 200 && answer.body.backfill === null) before = answer.body;
      else if (Date.now() > deadline) throw new Error(`not ready: ${answer.status} ${JSON.stringify(answer.body.backfill)}`);
    }
    const { page, reports, errors } = await signedInPage(collector.url);
    await page.getByRole('combobox', { name: 'Funnel', exact: true }).selectOption(ID);
    await page.getByLabel('Date range (UTC)').selectOption('7d');
    await expect.poll(() => shown(page), { timeout: 15_000 }).toEqual(expected(before));

    // A crash: the collector stops and leaves no snapshot of its live journeys (a clean stop
    // writes one, which a start takes and deletes), so the next start restores them from events.
    const port = Number(new URL(collector.url).port);
    await collector.close();
    stopped = true;
    const db = new Database(collector.dbFile);
    db.prepare('DELETE FROM funnel_snapshot').run();
    db.close();
    restarted = await buildApp(defaultConfig({
      port, databaseUrl: `sqlite:${collector.dbFile}`, adminToken: TOKEN, rateLimitPerMinute: 0, maxEventLoopDelayMs: 0,
    }));
    await restarted.listen({ port, host: '127.0.0.1' });

    // The marketer comes back to the tab: the report route answers 503 after 10 s, the page says why and retries.
    const asked = reports.length;
    await page.reload();
    const notice = page.locator('[data-progress="warming"]');
    await notice.waitFor({ timeout: 20_000 });
    expect(await notice.locator('.progress-title').textContent()).toMatch(/^The collector is restarting: restoring funnels…( \d{1,2}%)?$/);
    expect(await page.locator('p.error.banner').textContent()).toBe(''); // not an error
    expect(await page.locator('p.status').textContent()).toBe('Waiting for the collector to restart: the report will load by itself.');
    expect(await page.locator('.funnel').count()).toBe(0);
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-warming-laptop.png') });

    await notice.waitFor({ state: 'detached', timeout: 90_000 });
    const after = await reportOf(collector.url, SITE, ID, WEEK);
    expect(after.status).toBe(200);
    expect(after.body.steps).toEqual(before.steps); // the same numbers as before the restart
    await expect.poll(() => shown(page)).toEqual(expected(after.body));
    // Asked once, refused, asked again after the Retry-After: at least two requests after the reload.
    expect(reports.length - asked).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 180_000);
});
