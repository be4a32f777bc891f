// The sales funnel in a real browser: the demo shop's popup signup in Chromium makes a lead,
// a deal view and a cart make it an MQL (the CRM's webhook hears of it), then the sales side
// moves it to SAL, SQL and won through the API.
// TODO(dashboard): assert the Leads view once the dashboard has it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../test-support/browser.js';
import { startCollector, type RunningCollector } from '../test-support/collector.js';
import { DEMO_SITE, ensureDemoSite } from '../ingest/src/demo.js';

let browser: Browser;
let collector: RunningCollector;
let crm: http.Server;
let crmUrl: string;
const hooks: Record<string, any>[] = [];

const today = () => new Date().toISOString().slice(0, 10);

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
  });
});
