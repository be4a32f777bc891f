// CRM connectors in a real browser (issue #17): an admin sets HubSpot up in Site settings (the
// secrets masked by the API and never shown back on the page), sends a test that works and then one
// the CRM refuses (the connector paused, the CRM's 401 on the page), replaces the token; a visitor
// of the demo shop named as a lead through the real snippet becomes one HubSpot contact; Remove
// deletes the connector. Pipedrive's card is set up, tested and removed the same way.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../test-support/browser.js';
import { startCollector, type RunningCollector } from '../test-support/collector.js';
import { startHubSpotStub, type HubSpotStub } from '../test-support/hubspotStub.js';
import { startPipedriveStub, type PipedriveStub } from '../test-support/pipedriveStub.js';
import { DEMO_SITE, ensureDemoSite } from '../ingest/src/demo.js';

// Written on each run, not committed: the paused state, to look at.
const RUN_SCREENSHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test-results/screenshots');
/** The collector, the CRM stand-ins and Chromium share two cores with other test files. */
const SLOW = { timeout: 10_000 };
const TOKEN = 'hubspot-test-token';
const ROTATED = 'rotated-hubspot-token';
const CLIENT_SECRET = 'hubspot-client-secret';
const EMAIL = 'e2e@example.com';
const HUBSPOT_PATH = `/api/sites/${DEMO_SITE}/integrations/hubspot`;
const PIPEDRIVE_PATH = `/api/sites/${DEMO_SITE}/integrations/pipedrive`;

let browser: Browser;
let collector: RunningCollector;
let hubspot: HubSpotStub;
let pipedrive: PipedriveStub;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

async function api(path: string, body?: unknown, method?: string): Promise<{ status: number; body: any }> {
  const reply = await collector.admin(path, { body, method });
  return { status: reply.status, body: reply.status === 204 ? null : await reply.json() };
}

const card = (crm: string) => page.locator(`form.connector[data-crm="${crm}"]`);
const delivery = (crm: string) => card(crm).locator('[data-delivery]');
/** Everything the page holds: its markup and every field's current value. */
const pageText = async () => `${await page.content()}\n${(await page.locator('input, textarea').evaluateAll((els) => els.map((el) => (el as HTMLInputElement).value))).join('\n')}`;

beforeAll(async () => {
  [hubspot, pipedrive, browser] = await Promise.all([startHubSpotStub({ token: TOKEN }), startPipedriveStub(), launchChromium()]);
  collector = await startCollector({
    crmApiUrls: { hubspot: hubspot.url, pipedrive: pipedrive.url },
    webhooks: { allowPrivateAddresses: true, retryBaseMs: 50, pollMs: 20 },
    acceptAutomatedBrowsers: true,
  });
  await ensureDemoSite(collector.app, collector.url);

  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  page = await context.newPage();
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('dialog', (dialog) => {
    if (dialog.type() === 'confirm') void dialog.accept();
    else {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    }
  });
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) problems.push(message.text());
  });
  await page.goto(`${collector.url}/`);
  await page.getByLabel('Admin token').fill(collector.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Site settings' }).click();
  await page.locator('form.connector[aria-busy="false"]').first().waitFor();
  await page.locator('form.connector[aria-busy="true"]').waitFor({ state: 'detached' });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await collector?.close();
  await hubspot?.close();
  await pipedrive?.close();
});

describe('HubSpot connector in Site settings', () => {
  it('is saved from the form, and its secrets are masked by the API and never shown back', async () => {
    const hubspotCard = card('hubspot');
    expect(await hubspotCard.locator('[data-summary]').getAttribute('data-summary')).toBe('none');
    expect(await hubspotCard.getByRole('button', { name: 'Send a test' }).isVisible()).toBe(false);
    expect(await hubspotCard.getByLabel('Webhook URL to set in HubSpot').inputValue()).toBe(`${collector.url}${HUBSPOT_PATH}/events`);
    expect(await hubspotCard.textContent()).toContain('crm.objects.contacts.read, crm.objects.contacts.write, crm.schemas.contacts.read and crm.schemas.contacts.write');
    // The stage map starts at HubSpot's defaults.
    expect(await Promise.all(['MQL', 'SQL', 'Won'].map((stage) => hubspotCard.getByLabel(stage, { exact: true }).inputValue())))
      .toEqual(['marketingqualifiedlead', 'salesqualifiedlead', 'customer']);

    await hubspotCard.getByLabel('Access token').fill(TOKEN);
    await hubspotCard.getByLabel('Client secret').fill(CLIENT_SECRET);
    await hubspotCard.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('p.status').textContent(), SLOW).toBe('HubSpot connector saved.');

    const stored = await api(HUBSPOT_PATH);
    expect(stored).toEqual({
      status: 200,
      body: {
        access_token: `••••${TOKEN.slice(-4)}`,
        client_secret: `••••${CLIENT_SECRET.slice(-4)}`,
        stages: { mql: 'marketingqualifiedlead', sql: 'salesqualifiedlead', won: 'customer' },
        last_delivery: null,
      },
    });
    expect(await hubspotCard.locator('[data-summary]').getAttribute('data-summary')).toBe('set');
    expect(await hubspotCard.getByLabel('Access token').inputValue()).toBe('');
    expect(await hubspotCard.getByLabel('Client secret').inputValue()).toBe('');
    expect(await hubspotCard.textContent()).toContain(`set (••••${TOKEN.slice(-4)})`);
    expect(await delivery('hubspot').textContent()).toBe('Nothing sent yet: send a test to check the token.');
    const shown = await pageText();
    expect(shown).not.toContain(TOKEN);
    expect(shown).not.toContain(CLIENT_SECRET);

    // Saving again without the secrets is stopped by the form: PUT takes them every time.
    const puts: string[] = [];
    page.on('request', (request) => void (request.method() === 'PUT' && puts.push(request.url())));
    await hubspotCard.getByRole('button', { name: 'Save' }).click();
    expect(await hubspotCard.getByLabel('Access token').evaluate((el) => (el as HTMLInputElement).validity.valueMissing)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(puts).toEqual([]);
  });

  it('sends a test: delivered, then paused with the CRM’s 401 once the token is refused, until a new one is saved', async () => {
    const hubspotCard = card('hubspot');
    await hubspotCard.getByRole('button', { name: 'Send a test' }).click();
    await expect.poll(() => delivery('hubspot').getAttribute('data-outcome'), SLOW).toBe('delivered');
    expect(await delivery('hubspot').textContent()).toMatch(/^Last delivery: delivered \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$/);
    // Sending a test set up our contact properties in the portal.
    expect(hubspot.properties.size).toBeGreaterThan(0);

    hubspot.setToken('other');
    await hubspotCard.getByRole('button', { name: 'Send a test' }).click();
    await expect.poll(() => delivery('hubspot').getAttribute('data-outcome'), SLOW).toBe('paused');
    const { last_delivery: paused } = (await api(HUBSPOT_PATH)).body;
    expect(paused).toMatchObject({ outcome: 'paused', paused: true, error: expect.stringContaining('401') });
    const text = await delivery('hubspot').textContent();
    expect(text).toContain('Paused: replace the token. HubSpot refused it');
    expect(text).toContain(paused.error);
    expect(await delivery('hubspot').locator('[data-error]').textContent()).toBe(paused.error);
    fs.mkdirSync(RUN_SCREENSHOTS, { recursive: true });
    await card('hubspot').screenshot({ path: path.join(RUN_SCREENSHOTS, 'dashboard-crm-paused-laptop.png') });

    // The token is rotated in HubSpot: both secrets are entered again, the stage map kept as edited.
    hubspot.setToken(ROTATED);
    await hubspotCard.getByLabel('Access token').fill(ROTATED);
    await hubspotCard.getByLabel('Client secret').fill(CLIENT_SECRET);
    await hubspotCard.getByLabel('Won', { exact: true }).fill('');
    await hubspotCard.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => delivery('hubspot').textContent(), SLOW).toBe('Nothing sent yet: send a test to check the token.');
    expect((await api(HUBSPOT_PATH)).body).toMatchObject({
      access_token: `••••${ROTATED.slice(-4)}`,
      stages: { mql: 'marketingqualifiedlead', sql: 'salesqualifiedlead' },
      last_delivery: null,
    });
    expect((await api(HUBSPOT_PATH)).body.stages.won).toBeUndefined();
    expect(await hubspotCard.getByLabel('Won', { exact: true }).inputValue()).toBe('');
    expect(await pageText()).not.toContain(ROTATED);
  });

  it('shows a refused field beside the form', async () => {
    const hubspotCard = card('hubspot');
    await hubspotCard.getByLabel('Access token').fill(ROTATED);
    await hubspotCard.getByLabel('Client secret').fill(CLIENT_SECRET);
    await hubspotCard.getByLabel('MQL', { exact: true }).fill('Not A Stage');
    await hubspotCard.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => hubspotCard.getByRole('alert').textContent(), SLOW).toMatch(/^MQL: a HubSpot lifecycle stage is its internal value/);
    expect(await hubspotCard.getByLabel('MQL', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect((await api(HUBSPOT_PATH)).body.stages.mql).toBe('marketingqualifiedlead');
    await hubspotCard.getByLabel('MQL', { exact: true }).fill('marketingqualifiedlead');
  });

  it('turns a visitor named as a lead on the demo shop into exactly one HubSpot contact', async () => {
    const shop = await context.newPage();
    await shop.goto(`${collector.url}/demo/`);
    await shop.waitForFunction(() => (window as unknown as { funnel?: { on?: number } }).funnel?.on === 1);
    await shop.evaluate((email) => (window as unknown as { funnel: (name: string, options: unknown) => void }).funnel('signup', { lead: 'crm-e2e', email }), EMAIL);

    const withEmail = () => [...hubspot.contacts.values()].filter((c) => c.properties.email === EMAIL);
    await expect.poll(() => withEmail().length, SLOW).toBe(1);
    await expect.poll(async () => (await api(HUBSPOT_PATH)).body.last_delivery?.outcome, SLOW).toBe('delivered');
    // Deliveries have settled: still the one contact, named after our lead.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(withEmail()).toHaveLength(1);
    expect(withEmail()[0].properties.funnelbeam_lead_id).toBe('crm-e2e');
    expect(hubspot.contacts.size).toBe(1);
    for (const request of hubspot.requests.slice(-3)) expect(request.headers.authorization).toBe(`Bearer ${ROTATED}`);
    await shop.close();

    // The settings page shows it on its next load.
    await page.reload();
    await expect.poll(() => delivery('hubspot').getAttribute('data-outcome'), SLOW).toBe('delivered');
  });

  it('is removed after a confirm: the API has none any more', async () => {
    const hubspotCard = card('hubspot');
    await hubspotCard.getByRole('button', { name: 'Remove' }).click();
    await expect.poll(() => page.locator('p.status').textContent(), SLOW).toBe('HubSpot connector removed.');
    expect((await api(HUBSPOT_PATH)).status).toBe(404);
    expect(await hubspotCard.locator('[data-summary]').getAttribute('data-summary')).toBe('none');
    expect(await hubspotCard.getByRole('button', { name: 'Remove' }).isVisible()).toBe(false);
    expect(await delivery('hubspot').textContent()).toBe('');
  });
});

describe('Pipedrive connector in Site settings', () => {
  it('is saved, tested and removed from its card', async () => {
    const pipedriveCard = card('pipedrive');
    expect(await pipedriveCard.getByLabel('Webhook URL to set in Pipedrive').inputValue()).toBe(`${collector.url}${PIPEDRIVE_PATH}/events`);
    expect(await pipedriveCard.textContent()).toContain('who can add persons, leads and notes');
    await pipedriveCard.getByLabel('API token').fill('pipedrive-test-token');
    await pipedriveCard.getByLabel('Webhook user').fill('funnelbeam');
    await pipedriveCard.getByLabel('Webhook password').fill('a-long-webhook-password');
    await pipedriveCard.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('p.status').textContent(), SLOW).toBe('Pipedrive connector saved.');
    expect((await api(PIPEDRIVE_PATH)).body).toEqual({ api_token: '••••oken', webhook_user: 'funnelbeam', webhook_password: '••••word', last_delivery: null });
    // The user is no secret: it stays in its field; the password and the token do not.
    expect(await pipedriveCard.getByLabel('Webhook user').inputValue()).toBe('funnelbeam');
    expect(await pipedriveCard.getByLabel('Webhook password').inputValue()).toBe('');
    expect(await pageText()).not.toContain('a-long-webhook-password');

    await pipedriveCard.getByRole('button', { name: 'Send a test' }).click();
    await expect.poll(() => delivery('pipedrive').getAttribute('data-outcome'), SLOW).toBe('delivered');

    await pipedriveCard.getByRole('button', { name: 'Remove' }).click();
    await expect.poll(() => page.locator('p.status').textContent(), SLOW).toBe('Pipedrive connector removed.');
    expect((await api(PIPEDRIVE_PATH)).status).toBe(404);
    expect(problems).toEqual([]);
  });
});
