// Accounts in a real browser (issue #15): a viewer limited to one of two sites signs in with an
// e-mail and sees only that site's report, with no control that would be refused; an editor saves
// a funnel through the editor; an admin shares a funnel from the admin page, and a browser with no
// sign-in at all opens the link and sees that one report (its password first, when it has one);
// from a user's row, an admin limits them to a site and sets a new password, which ends their sessions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../test-support/browser.js';
import { startCollector, type RunningCollector } from '../test-support/collector.js';
import type { FunnelReport } from '../ingest/src/funnel/report.js';

const ALPHA = 'alpha.example.com';
const BETA = 'beta.example.com';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';
const VIEWER = { email: 'vera@example.com', password: 'viewer-password-1', role: 'viewer', sites: [ALPHA] };
const EDITOR = { email: 'ed@example.com', password: 'editor-password-1', role: 'editor', sites: [ALPHA] };
const SIGNUP = { name: 'Alpha signup', window: '1d', steps: [{ name: 'Landing', event: 'pageview', path: '/' }, { name: 'Signed up', event: 'signup' }] };
const OTHER = { name: 'Alpha pricing', window: '1d', steps: [{ name: 'Pricing', event: 'pageview', path: '/pricing' }, { name: 'Signed up', event: 'signup' }] };
const BETA_FUNNEL = { name: 'Beta secret funnel', window: '1d', steps: [{ name: 'Home', event: 'pageview' }, { name: 'Bought', event: 'purchase' }] };

const utcDay = (offset = 0) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
/** The dashboard's default range: the last 30 UTC days. */
const MONTH = `from=${utcDay(-29)}&to=${utcDay()}`;
const fmtCount = (n: number) => new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(n);
const fmtPct = (r: number) => new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 }).format(r);

let collector: RunningCollector;
let browser: Browser;
const contexts: BrowserContext[] = [];
const problems: string[] = [];

async function api(path: string, body?: unknown, method?: string): Promise<{ status: number; body: any }> {
  const reply = await collector.admin(path, { body, method });
  return { status: reply.status, body: reply.status === 204 ? null : await reply.json() };
}

const report = async (site: string, funnel: string) => (await api(`/api/sites/${site}/funnels/${funnel}/report?${MONTH}`)).body as FunnelReport;

/** A tab of its own: no cookie, no token; what goes wrong in it is collected. */
async function freshPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('dialog', (dialog) => void dialog.accept());
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) problems.push(message.text());
  });
  return page;
}

async function signInWithEmail(page: Page, user: { email: string; password: string }): Promise<void> {
  await page.goto(`${collector.url}/`);
  await page.getByLabel('E-mail').fill(user.email);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** What the summary and the bars show, next to the same from the API's report. */
async function shown(page: Page) {
  const kpi = (key: string) => page.locator(`[data-kpi="${key}"] dd`).first().textContent();
  return {
    entered: await kpi('entered'),
    converted: await kpi('converted'),
    conversion: await kpi('conversion-rate'),
    steps: await page.locator('.funnel .step [data-metric="entered"]').allTextContents(),
  };
}
const expected = (r: FunnelReport) => ({
  entered: fmtCount(r.entered),
  converted: fmtCount(r.converted),
  conversion: fmtPct(r.conversion_rate),
  steps: r.steps.map((s) => fmtCount(s.entered)),
});

beforeAll(async () => {
  [collector, browser] = await Promise.all([startCollector(), launchChromium()]);
  for (const domain of [ALPHA, BETA]) {
    expect((await api('/api/sites', { domain, origins: [`https://${domain}`] })).status).toBe(201);
  }
  expect((await api(`/api/sites/${ALPHA}/funnels/alpha-signup`, SIGNUP, 'PUT')).status).toBe(201);
  expect((await api(`/api/sites/${ALPHA}/funnels/alpha-pricing`, OTHER, 'PUT')).status).toBe(201);
  expect((await api(`/api/sites/${BETA}/funnels/beta-secret`, BETA_FUNNEL, 'PUT')).status).toBe(201);

  // Alpha: five visitors land, three of them sign up; Beta: two visitors who never show on Alpha.
  const now = Date.now() - 60_000;
  const events = [
    ...Array.from({ length: 5 }, (_, i) => ({ site: ALPHA, name: 'pageview', url: `https://${ALPHA}/`, visitor: `a-${i}`, id: `a-land-${i}`, ts: now + i })),
    ...Array.from({ length: 3 }, (_, i) => ({ site: ALPHA, name: 'signup', url: `https://${ALPHA}/signup`, visitor: `a-${i}`, id: `a-signup-${i}`, ts: now + 1000 + i })),
    ...Array.from({ length: 2 }, (_, i) => ({ site: BETA, name: 'pageview', url: `https://${BETA}/`, visitor: `b-${i}`, id: `b-land-${i}`, ts: now + i })),
  ];
  const sent = await fetch(`${collector.url}/api/event`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'user-agent': CHROME },
    body: JSON.stringify(events),
  });
  expect(sent.status).toBe(202);
  for (const user of [VIEWER, EDITOR]) expect((await api('/api/users', user)).status).toBe(201);

  const deadline = Date.now() + 10_000;
  while ((await report(ALPHA, 'alpha-signup')).converted !== 3) {
    if (Date.now() > deadline) throw new Error('the events never made it into the report');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 60_000);

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await collector?.close();
});

describe('roles in the dashboard', () => {
  it('shows a viewer only its site and its report, and no control it may not use', async () => {
    const page = await freshPage();
    await page.goto(`${collector.url}/`);
    await page.getByLabel('E-mail').fill(VIEWER.email);
    await page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toBe('Wrong e-mail or password.');

    await signInWithEmail(page, VIEWER);
    // The session is a cookie the page never sees; no token is kept.
    expect(await page.evaluate(() => [document.cookie, sessionStorage.getItem('funnelbeam.adminToken')])).toEqual(['', null]);
    expect(await page.locator('.who').textContent()).toBe(`${VIEWER.email} (viewer)`);
    expect(await page.getByLabel('Site').locator('option').allTextContents()).toEqual([ALPHA]);
    await page.getByRole('combobox', { name: 'Funnel', exact: true }).selectOption({ label: SIGNUP.name });
    const api30 = await report(ALPHA, 'alpha-signup');
    expect(api30.steps.map((s) => s.entered)).toEqual([5, 3]);
    await expect.poll(() => shown(page)).toEqual(expected(api30));
    expect(await page.getByRole('combobox', { name: 'Funnel', exact: true }).locator('option').allTextContents()).not.toContain(BETA_FUNNEL.name);

    // Reading only: no editor, export, settings or admin; the Leads view has nothing to move.
    expect(await page.locator('nav[aria-label="Sections"] button').allTextContents()).toEqual(['Report', 'Leads']);
    for (const name of ['Edit funnel', 'Export CSV', 'Funnels', 'Site settings', 'Admin', 'Create a funnel']) {
      expect(await page.getByRole('button', { name, exact: true }).count(), name).toBe(0);
    }
    await page.getByRole('button', { name: 'Leads', exact: true }).click();
    await page.locator('.lead-list').waitFor();
    expect(await page.locator('#main button').allTextContents()).toEqual([]);
    // What is hidden is what the collector refuses.
    const refused = await page.evaluate(async (site) => {
      const put = await fetch(`/api/sites/${site}/funnels/x`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
      const other = await fetch('/api/sites/beta.example.com/funnels');
      return [put.status, other.status];
    }, ALPHA);
    expect(refused).toEqual([403, 403]);

    // A reload goes straight back in (the cookie session); signing out ends it on the collector.
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('E-mail').waitFor();
    expect(await page.evaluate(async () => (await fetch('/api/me')).status)).toBe(401);
    await page.reload();
    await page.getByLabel('E-mail').waitFor();
  });

  it('lets an editor save a funnel through the editor, and shows no export or admin', async () => {
    const page = await freshPage();
    await signInWithEmail(page, EDITOR);
    expect(await page.locator('nav[aria-label="Sections"] button').allTextContents()).toEqual(['Report', 'Funnels', 'Leads']);
    expect(await page.getByRole('button', { name: 'Export CSV' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Edit funnel' }).waitFor();

    await page.getByRole('button', { name: 'Funnels', exact: true }).click();
    await page.getByRole('button', { name: '+ New funnel' }).click();
    await page.getByLabel('Funnel name').fill('Editor landing to signup');
    await page.locator('.step-edit').nth(1).getByLabel('Step name').fill('Joined');
    await page.getByRole('button', { name: 'Save funnel' }).click();
    await expect.poll(() => page.getByRole('combobox', { name: 'Funnel', exact: true }).inputValue()).toBe('editor-landing-to-signup');

    const saved = await api(`/api/sites/${ALPHA}/funnels/editor-landing-to-signup`);
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({
      name: 'Editor landing to signup',
      steps: [{ name: 'Landing', event: 'pageview', path: '/' }, { name: 'Joined', event: 'signup' }],
    });
    await expect.poll(() => shown(page)).toEqual(expected(await report(ALPHA, 'editor-landing-to-signup')));
  });
});

describe('shared links', () => {
  let sharedUrl: string;

  it('are made on the admin page, shown once as an absolute link', async () => {
    const page = await freshPage();
    await page.goto(`${collector.url}/`);
    await page.getByLabel('Admin token').fill(collector.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Admin', exact: true }).click();
    await page.getByLabel('Site', { exact: true }).selectOption(ALPHA);
    // Picking a site loads its funnels and draws the page again: typing before that would be
    // typed into a form about to be replaced (on a loaded machine the load can take a while).
    await page.waitForLoadState('networkidle');
    await expect.poll(() => page.getByRole('combobox', { name: 'Funnel', exact: true }).locator('option').allTextContents(), { timeout: 10_000 }).toContain(SIGNUP.name);

    // The users the test made, with their roles and sites.
    await expect.poll(async () => (await page.locator('table[data-table="users"] tbody tr').allTextContents()).length).toBe(2);
    expect(await page.getByRole('combobox', { name: `Role of ${VIEWER.email}` }).inputValue()).toBe('viewer');

    // A key: shown once, in full, and listed by name.
    await page.getByLabel('Name', { exact: true }).fill('CRM sync');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = await page.locator('[data-secret="key"]').inputValue();
    expect(key).toMatch(/^fbk_/);
    await expect.poll(() => page.locator('table[data-table="keys"] tbody th').allTextContents()).toEqual(['CRM sync']);
    expect((await fetch(`${collector.url}/api/sites`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);

    await page.getByRole('combobox', { name: 'Funnel', exact: true }).selectOption({ label: SIGNUP.name });
    await page.getByRole('button', { name: 'Create link' }).click();
    sharedUrl = await page.locator('[data-secret="share"]').inputValue();
    expect(sharedUrl).toMatch(new RegExp(`^${collector.url}/share/[^/]+$`));
    expect(await page.getByRole('link', { name: 'Open it' }).getAttribute('href')).toBe(sharedUrl);
    await expect.poll(() => page.locator('table[data-table="shares"] tbody th').allTextContents()).toEqual([SIGNUP.name]);
    const listed = (await api(`/api/sites/${ALPHA}/shares`)).body;
    expect(listed).toEqual([expect.objectContaining({ funnel: 'alpha-signup', has_password: false })]);

    // The audit log says who did what: the editor's funnel, then the owner's key, as they happen.
    const audit = () => page.locator('table[data-table="audit"] tbody tr').evaluateAll((rows) => rows.map((row) => Array.from(row.children, (cell) => cell.textContent ?? '')));
    await expect.poll(async () => (await audit()).map((row) => row.slice(1))).toContainEqual([`user:${EDITOR.email}`, 'funnel.save', ALPHA, 'editor-landing-to-signup']);
    await expect.poll(async () => (await audit()).some((row) => row[1] === 'owner' && row[4] === 'CRM sync')).toBe(true);
  });

  it('open that one report, read-only, for a browser that never signed in', async () => {
    expect(sharedUrl).toBeDefined();
    const page = await freshPage();
    await page.goto(sharedUrl);
    await page.locator('.kpis').waitFor();
    await expect.poll(() => shown(page)).toEqual(expected(await report(ALPHA, 'alpha-signup')));
    expect(await page.locator('h1').textContent()).toBe(SIGNUP.name);

    // Nothing else of the app: no site, no other funnel, no sign-in, no editing, export or drill-down.
    const text = (await page.locator('body').textContent()) ?? '';
    for (const hidden of [ALPHA, BETA, OTHER.name, BETA_FUNNEL.name, 'Sign in', 'Sign out', 'Export CSV', 'Edit funnel', 'Leads']) {
      expect(text, hidden).not.toContain(hidden);
    }
    for (const selector of ['select[name=site]', 'select[name=funnel]', 'input[name=token]', 'input[name=email]', 'nav', '.step-name']) {
      expect(await page.locator(selector).count(), selector).toBe(0);
    }
    expect(await page.locator('#app button').count()).toBe(0);
    // A breakdown is there to read.
    await page.getByRole('combobox', { name: 'Breakdown' }).selectOption('channel');
    await expect.poll(() => page.locator('table[data-table="breakdown"] tbody tr').count()).toBeGreaterThan(0);
    expect(await page.evaluate(async () => (await fetch('/api/me')).status)).toBe(401);
  });

  it('with a password, ask for it first and refuse a wrong one', async () => {
    const made = await api(`/api/sites/${ALPHA}/shares`, { funnel: 'alpha-signup', password: 'open sesame 42' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ funnel: 'alpha-signup', has_password: true });
    const page = await freshPage();
    await page.goto(collector.url + made.body.url);
    const password = page.getByLabel('Password');
    await password.waitFor();
    expect(await page.locator('.kpis').count()).toBe(0);
    await password.fill('open says me');
    await page.getByRole('button', { name: 'View the report' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toBe('That is not the password.');
    expect(await page.locator('.kpis').count()).toBe(0);

    await password.fill('open sesame 42');
    await page.getByRole('button', { name: 'View the report' }).click();
    await page.locator('.kpis').waitFor();
    await expect.poll(() => shown(page)).toEqual(expected(await report(ALPHA, 'alpha-signup')));
    // Unlocked for this browser: a reload shows the report again without the password.
    await page.reload();
    await page.locator('.kpis').waitFor();
    expect(await page.getByLabel('Password').count()).toBe(0);

    // Revoked, it opens nothing.
    expect((await api(`/api/sites/${ALPHA}/shares/${made.body.id}`, undefined, 'DELETE')).status).toBe(204);
    await page.reload();
    await expect.poll(() => page.locator('h1').textContent()).toBe('This link does not open a report');
    expect(await page.locator('.kpis').count()).toBe(0);
    expect(problems).toEqual([]);
  });
});

describe('a user changed from the admin page', () => {
  const SAM = { email: 'sam@example.com', password: 'sam-first-password', role: 'viewer' };
  const NEW_PASSWORD = 'sam-second-password';
  const login = (password: string) => fetch(`${collector.url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: collector.url },
    body: JSON.stringify({ email: SAM.email, password }),
  });
  const listed = async () => ((await api('/api/users')).body as { email: string; sites: string[] | null }[]).find((user) => user.email === SAM.email);

  it('is limited to one site, then given a new password that ends their sessions', async () => {
    expect((await api('/api/users', SAM)).status).toBe(201);
    expect((await listed())?.sites).toBeNull();
    // A session of Sam's, open before the change.
    const signedIn = await login(SAM.password);
    expect(signedIn.status).toBe(204);
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const samMe = async () => (await fetch(`${collector.url}/api/me`, { headers: { cookie } })).status;
    expect(await samMe()).toBe(200);

    const page = await freshPage();
    await page.goto(`${collector.url}/`);
    await page.getByLabel('Admin token').fill(collector.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Admin', exact: true }).click();
    const row = page.locator('table[data-table="users"] tbody tr', { has: page.getByRole('rowheader', { name: SAM.email, exact: true }) });
    const sitesShown = () => row.locator('.cell-actions > span').textContent();
    await expect.poll(sitesShown).toBe('All sites');

    // Sites: the collector's, none ticked (every site); one ticked and saved.
    const editSites = row.getByRole('button', { name: `Edit sites of ${SAM.email}` });
    await editSites.click();
    expect(await editSites.getAttribute('aria-expanded')).toBe('true');
    const boxes = row.getByRole('checkbox');
    expect(await boxes.evaluateAll((els) => els.map((el) => [(el as HTMLInputElement).value, (el as HTMLInputElement).checked]))).toEqual([[ALPHA, false], [BETA, false]]);
    await row.getByRole('checkbox', { name: BETA }).check();
    await row.getByRole('button', { name: 'Save sites' }).click();
    await expect.poll(sitesShown).toBe(BETA);
    expect(await editSites.getAttribute('aria-expanded')).toBe('false');
    expect((await listed())?.sites).toEqual([BETA]);

    // Password: the API's refusal of a short one shows under the field, which takes the focus.
    await row.getByRole('button', { name: `Set password for ${SAM.email}` }).click();
    const password = row.getByLabel('New password');
    const refusal = row.locator('.field .field-error');
    await password.fill('too short');
    await row.getByRole('button', { name: 'Save password' }).click();
    await expect.poll(() => refusal.textContent()).toMatch(/fewer than 10 characters/);
    expect(await password.getAttribute('aria-invalid')).toBe('true');
    expect(await password.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await samMe()).toBe(200);

    await password.fill(NEW_PASSWORD);
    await row.getByRole('button', { name: 'Save password' }).click();
    await expect.poll(() => row.locator('.row-edit .note').textContent())
      .toBe(`Password of ${SAM.email} changed: their sessions have ended, and they sign in with the new one.`);
    expect(await refusal.textContent()).toBe('');
    expect(await password.getAttribute('aria-invalid')).toBeNull();
    expect(await password.inputValue()).toBe('');

    expect(await samMe()).toBe(401);
    expect((await login(SAM.password)).status).toBe(401);
    expect((await login(NEW_PASSWORD)).status).toBe(204);
    expect((await listed())?.sites).toEqual([BETA]);
    expect(problems).toEqual([]);
  });
});
