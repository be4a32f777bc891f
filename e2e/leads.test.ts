// The sales funnel in a real browser: the demo shop's popup signup in Chromium makes a lead,
// a deal view and a cart make it an MQL (the CRM's webhook hears of it), then the sales side
// moves it to SAL, SQL and won through the API; the dashboard's Leads view shows the API's
// numbers, the lead and its timeline.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../test-support/browser.js';
import { startCollector, type RunningCollector } from '../test-support/collector.js';
import { DEMO_SITE, ensureDemoSite } from '../ingest/src/demo.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// Like e2e/dashboard.test.ts: the committed screenshot changes only on purpose.
const RUN_SCREENSHOTS = path.resolve(here, '../test-results/screenshots');
const SCREENSHOT_DIRS = [RUN_SCREENSHOTS, ...(process.env.UPDATE_SCREENSHOTS ? [path.resolve(here, '../dashboard/screenshots')] : [])];

let browser: Browser;
let collector: RunningCollector;
let crm: http.Server;
let crmUrl: string;
const hooks: Record<string, any>[] = [];

const utcDay = (offset = 0) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const today = () => utcDay();
/** The lead that the first test signs up and closes. */
let wonLead: string;

async function api(path: string, body?: unknown, method?: string) {
  const reply = await collector.admin(path, { body, method });
  return { status: reply.status, body: (await reply.json()) as any };
}

beforeAll(async () => {
  crm = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      hooks.push(JSON.parse(body));
      response.end();
    });
  });
  await new Promise<void>((resolve) => crm.listen(0, '127.0.0.1', resolve));
  crmUrl = `http://127.0.0.1:${(crm.address() as AddressInfo).port}/hook`;
  [browser, collector] = await Promise.all([
    launchChromium(),
    startCollector({ acceptAutomatedBrowsers: true, webhooks: { allowPrivateAddresses: true, pollMs: 50, retryBaseMs: 100 } }),
  ]);
  await ensureDemoSite(collector.app, collector.url);
});

afterAll(async () => {
  await browser?.close();
  await collector?.close();
  await new Promise((resolve) => crm?.close(resolve));
});

describe('demo shop popup signup → MQL → won', () => {
  it('scores the signed-up visitor to an MQL after a deal view and a cart, and sales close it', async () => {
    const scoring = {
      threshold: 30,
      rules: [
        { points: 5, event: 'signup' },
        { points: 10, event: 'deal_view' },
        { points: 15, event: 'add_to_cart', props: { deal: 'chicago-spa' } },
      ],
    };
    expect((await api(`/api/sites/${DEMO_SITE}/scoring`, scoring, 'PUT')).status).toBe(200);
    expect((await api(`/api/sites/${DEMO_SITE}/webhook`, { url: crmUrl, secret: 'demo-shop-crm-secret' }, 'PUT')).status).toBe(200);

    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(`${collector.url}/demo/?utm_source=newsletter&utm_medium=email&utm_campaign=spa-week`);
    // The popup opens by itself after a second.
    await tab.locator('#email').waitFor({ state: 'visible' });
    await tab.fill('#email', 'ann@example.com');
    await tab.click('#signup button[type=submit]');
    await tab.locator('#coupon').waitFor({ state: 'visible' });

    const leads = async () => (await api(`/api/sites/${DEMO_SITE}/leads`)).body.leads as any[];
    await expect.poll(async () => (await leads()).length, { timeout: 10_000 }).toBe(1);
    const [lead] = await leads();
    // The page names the lead with a hash of the e-mail; the address itself is never stored.
    expect(lead.lead).toMatch(/^lead_[0-9a-f]+$/);
    expect(lead).toMatchObject({ stage: 'lead', score: 5, source: { channel: 'Email', source: 'newsletter', campaign: 'spa-week', landing: '/demo/' } });

    await tab.click('#close-popup');
    await tab.click('a[href="deals/chicago-spa.html"]');
    await tab.waitForURL(/chicago-spa/);
    await expect.poll(async () => (await leads())[0].score, { timeout: 10_000 }).toBe(15);
    expect((await leads())[0].stage).toBe('lead');
    await tab.click('#buy');
    await tab.waitForURL(/cart\.html/);
    await expect.poll(async () => (await leads())[0].stage, { timeout: 10_000 }).toBe('mql');
    await context.close();

    const path = `/api/sites/${DEMO_SITE}/leads/${lead.lead}`;
    const detail = (await api(path)).body;
    expect(detail).toMatchObject({ stage: 'mql', score: 30 });
    expect(detail.timeline.filter((t: any) => t.type === 'event').map((t: any) => t.name)).toEqual(
      expect.arrayContaining(['pageview', 'popup_view', 'signup', 'deal_view', 'add_to_cart']),
    );
    await expect.poll(() => hooks.find((h) => h.type === 'lead.mql')?.lead).toBe(lead.lead);

    expect((await api(`${path}/stage`, { stage: 'sal' })).body.stage).toBe('sal');
    expect((await api(`${path}/stage`, { stage: 'sql' })).body.stage).toBe('sql');
    expect((await api(`${path}/stage`, { stage: 'won', amount: 49, currency: 'USD' })).body).toMatchObject({ stage: 'won', won: { amount: 49, currency: 'USD' } });

    expect((await api(`/api/sites/${DEMO_SITE}/leads?stage=won`)).body.leads.map((l: any) => l.lead)).toEqual([lead.lead]);
    const report = (await api(`/api/sites/${DEMO_SITE}/sales-funnel?from=${today()}&to=${today()}&breakdown=campaign`)).body;
    expect(report).toMatchObject({ leads: 1, won: 1, close_rate: 1, revenue: { USD: 49 } });
    expect(report.stages.map((s: any) => s.reached)).toEqual([1, 1, 1, 1, 1]);
    expect(report.breakdown).toEqual([expect.objectContaining({ key: 'spa-week', won: 1 })]);
    await expect.poll(() => hooks.filter((h) => h.type === 'lead.stage').map((h) => h.stage)).toEqual(['sal', 'sql', 'won']);
    wonLead = lead.lead;
  });

  it('shows the sales funnel, the won lead and its timeline in the dashboard', async () => {
    expect(wonLead).toBeDefined();
    // A second lead, named by a server with markup in its id, its campaign and a property: the
    // dashboard must show it as text. It stays in stage lead: the open pipeline of the picture.
    const hostile = { lead: '<img src=x onerror="window.__xss=1">', campaign: '<script>window.__xss=2</script>', note: '<b onmouseover="window.__xss=3">hi</b>' };
    const sent = await fetch(`${collector.url}/api/event`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: collector.url,
        'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
      },
      body: JSON.stringify({
        site: DEMO_SITE,
        name: 'signup',
        url: `${collector.url}/demo/?${new URLSearchParams({ utm_source: 'partner', utm_medium: 'referral', utm_campaign: hostile.campaign })}`,
        lead: hostile.lead,
        props: { note: hostile.note },
      }),
    });
    expect(sent.status).toBe(202);
    await expect.poll(async () => (await api(`/api/sites/${DEMO_SITE}/leads`)).body.total, { timeout: 10_000 }).toBe(2);

    const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'en-US' });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('dialog', (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) problems.push(message.text());
    });
    const fmtCount = (n: number) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(n);
    const fmtPct = (r: number | null) => (r === null ? '–' : new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 }).format(r));
    const fmtRevenue = (revenue: Record<string, number>) =>
      Object.entries(revenue).map(([currency, amount]) => new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(amount)).join(' · ') || '–';
    const fmtScore = (n: number) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 }).format(n);
    const texts = (selector: string) => page.locator(selector).allTextContents();
    const tableRows = (name: string) =>
      page.locator(`table[data-table="${name}"] tbody tr`).evaluateAll((rows) => rows.map((row) => Array.from(row.children, (cell) => cell.textContent ?? '')));

    await page.goto(`${collector.url}/`);
    await page.getByLabel('Admin token').fill(collector.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Site').selectOption(DEMO_SITE);
    await page.getByRole('button', { name: 'Leads', exact: true }).click();

    // The sales funnel of the last 30 days (the default range), as the API counts it.
    const funnelOf = async (breakdown = '') =>
      (await api(`/api/sites/${DEMO_SITE}/sales-funnel?from=${utcDay(-29)}&to=${today()}${breakdown ? `&breakdown=${breakdown}` : ''}`)).body;
    const funnel = await funnelOf();
    expect(funnel.stages.map((s: any) => s.reached)).toEqual([2, 1, 1, 1, 1]);
    expect(funnel.stages[0].waiting.count).toBe(1);
    await expect.poll(() => texts('.funnel.sales [data-metric="reached"]')).toEqual(funnel.stages.map((s: any) => fmtCount(s.reached)));
    expect(await texts('.funnel.sales [data-metric="conversion"]')).toEqual(funnel.stages.slice(0, -1).map((s: any) => fmtPct(s.conversion_rate)));
    expect(await texts('.funnel.sales [data-metric="waiting"]')).toEqual(funnel.stages.slice(0, -1).map((s: any) => fmtCount(s.waiting.count)));
    const kpi = (key: string) => page.locator(`[data-kpi="${key}"] dd`).first().textContent();
    expect(await kpi('leads')).toBe(fmtCount(funnel.leads));
    expect(await kpi('won')).toBe(fmtCount(funnel.won));
    expect(await kpi('close-rate')).toBe(fmtPct(funnel.close_rate));
    expect(await kpi('revenue')).toBe('$49.00');

    // By campaign: the won lead came from the newsletter's spa-week.
    await page.getByRole('combobox', { name: 'Breakdown' }).selectOption('campaign');
    const byCampaign = await funnelOf('campaign');
    await expect
      .poll(() => tableRows('sales-breakdown'))
      .toEqual(byCampaign.breakdown.map((row: any) => [row.key ?? '(none)', ...row.stages.map((s: any) => fmtCount(s.reached)), fmtPct(row.close_rate), fmtRevenue(row.revenue)]));
    expect((await tableRows('sales-breakdown')).map((r) => [r[0], r.at(-1)])).toEqual(expect.arrayContaining([['spa-week', '$49.00'], [hostile.campaign, '–']]));

    // The list: the lead, won, with the API's score and its entry source.
    const listed = (await api(`/api/sites/${DEMO_SITE}/leads`)).body.leads.find((l: any) => l.lead === wonLead);
    expect(listed).toMatchObject({ stage: 'won' });
    await expect.poll(() => tableRows('leads')).toHaveLength(2);
    const row = (await tableRows('leads')).find((r) => r[0] === wonLead)!;
    expect(row.slice(0, 6)).toEqual([wonLead, 'Won', fmtScore(listed.score), 'Email', 'newsletter', 'spa-week']);
    expect((await tableRows('leads')).find((r) => r[0] === hostile.lead)?.slice(0, 6)).toEqual([hostile.lead, 'Lead', '5', 'Referral', 'partner', hostile.campaign]);
    expect(fmtScore(listed.score)).toBe('30');
    // Filtered by stage: only won leads, then none in SQL any more.
    await page.getByRole('combobox', { name: 'Stage' }).selectOption('sql');
    await expect.poll(() => page.locator('.lead-list p.muted').textContent()).toBe('No lead is in stage SQL.');
    await page.getByRole('combobox', { name: 'Stage' }).selectOption('won');
    await expect.poll(async () => (await tableRows('leads')).map((r) => r[0])).toEqual([wonLead]);

    // Its timeline, opened with the keyboard: the signup event and the stage changes.
    const open = page.locator('.lead-open', { hasText: wonLead });
    await open.focus();
    await page.keyboard.press('Enter');
    await page.locator('#lead-detail .timeline').waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('lead-detail');
    expect(await open.getAttribute('aria-expanded')).toBe('true');
    const detail = (await api(`/api/sites/${DEMO_SITE}/leads/${wonLead}`)).body;
    expect(await texts('#lead-detail .tl-event .tl-name')).toEqual(detail.timeline.filter((t: any) => t.type === 'event').map((t: any) => t.name));
    expect(await texts('#lead-detail .tl-event .tl-name')).toContain('signup');
    const stages = await page.locator('#lead-detail .tl-stage').evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.stage));
    expect(stages).toEqual(['lead', 'mql', 'sal', 'sql', 'won']);
    const stageTexts = await texts('#lead-detail .tl-stage');
    expect(stageTexts.slice(2)).toEqual([
      expect.stringContaining('Stage SAL from MQL (by sales)'),
      expect.stringContaining('Stage SQL from SAL (by sales)'),
      expect.stringContaining('Stage Won from SQL (by sales) · $49.00'),
    ]);
    // Every item of the API's timeline, in its order.
    expect(await page.locator('#lead-detail time').evaluateAll((els) => els.map((el) => el.getAttribute('datetime')))).toEqual(detail.timeline.map((t: any) => t.at));

    // The hostile lead's timeline: its id, campaign and property as the characters they are.
    await page.getByRole('combobox', { name: 'Stage' }).selectOption('lead');
    await page.locator('.lead-open', { hasText: hostile.lead }).click();
    await expect.poll(() => page.locator('#lead-title code').textContent()).toBe(hostile.lead);
    expect(await texts('#lead-detail .tl-visit')).toEqual([`Visit from Referral · partner · ${hostile.campaign}`]);
    expect(await texts('#lead-detail .tl-props')).toEqual([`note: ${hostile.note}`]);
    expect(await page.locator('#app img, #app script, #app b, #app [onerror], #app [onmouseover]').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __xss?: unknown }).__xss)).toBeUndefined();
    await page.getByRole('combobox', { name: 'Stage' }).selectOption('won');
    await page.locator('.lead-open', { hasText: wonLead }).click();
    await expect.poll(() => page.locator('#lead-title code').textContent()).toBe(wonLead);
    await page.getByRole('combobox', { name: 'Stage' }).selectOption('');
    await expect.poll(() => tableRows('leads')).toHaveLength(2);

    await page.mouse.move(0, 0);
    await page.evaluate(() => {
      (document.activeElement as HTMLElement | null)?.blur();
      window.scrollTo(0, 0);
    });
    for (const dir of SCREENSHOT_DIRS) {
      fs.mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: path.join(dir, 'dashboard-leads-laptop.png'), fullPage: true });
    }
    // At phone width nothing is wider than the screen; Escape closes the timeline, focus back on the lead.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(RUN_SCREENSHOTS, 'dashboard-leads-phone.png'), fullPage: true });
    await page.locator('#lead-detail').focus();
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('#lead-detail').count()).toBe(0);
    expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.lead)).toBe(wonLead);
    expect(problems).toEqual([]);
    await context.close();
  });
});
