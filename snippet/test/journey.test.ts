// The demo shop's whole funnel in Chromium, and the navigations the snippet must never break:
// a form that navigates away, a target=_blank link, a back/forward cache restore. Every
// assertion is on the exact events the collector received over real HTTP.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newContext, startHarness, waitForEvents, wire, type Harness } from './helpers';

let h: Harness;
let origin: string;
beforeAll(async () => {
  h = await startHarness({ bfcache: true });
  origin = h.server.origin;
});
afterAll(() => h?.close());
beforeEach(() => {
  h.server.requests.length = 0;
});

const demo = (name: string, path: string, fields = {}) => ({
  ...wire(origin, name, path, fields),
  site: 'demo.funnelbeam.local',
});

describe('demo shop journey', () => {
  it('landing, popup view, signup, deal view, add to cart, checkout, purchase with revenue', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    await page.goto(`${origin}/demo/`);
    await page.locator('#popup').waitFor({ state: 'visible' }); // shown after ~1 s
    await page.fill('#email', 'Jane.Doe@Example.com');
    await page.click('#signup button');
    await page.locator('#coupon').waitFor({ state: 'visible' });
    await page.click('#close-popup');
    await page.waitForTimeout(1000); // reads the deals: engaged time is sampled each second
    await page.click('text=Chicago: full-day spa pass');
    await page.click('#buy');
    await page.waitForURL('**/cart.html?deal=chicago-spa');
    await page.click('#checkout button'); // invalid: empty required fields, no event
    await page.fill('#card-name', 'Jane Doe');
    await page.fill('#card-number', '4242 4242 4242 4242');
    await page.click('#checkout button');
    await page.waitForURL('**/thanks.html?deal=chicago-spa');

    const events = await waitForEvents(h.server, 10);
    const lead = 'lead_' + fnv1a('jane.doe@example.com');
    const deal = '/demo/deals/chicago-spa.html';
    const cart = '/demo/cart.html?deal=chicago-spa';
    const thanks = '/demo/thanks.html?deal=chicago-spa';
    expect(events).toEqual([
      demo('pageview', '/demo/'),
      demo('popup_view', '/demo/', { props: { offer: 'WELCOME10' } }),
      demo('signup', '/demo/', { lead, props: { offer: 'WELCOME10' } }),
      demo('pageview', deal, { lead, referrer: `${origin}/demo/` }),
      demo('deal_view', deal, { lead, referrer: `${origin}/demo/`, props: { deal: 'chicago-spa' } }),
      demo('add_to_cart', deal, {
        lead,
        referrer: `${origin}/demo/`,
        props: { deal: 'chicago-spa', price: '49' },
      }),
      demo('pageview', cart, { lead, referrer: origin + deal }),
      demo('checkout', cart, { lead, referrer: origin + deal, props: { deal: 'chicago-spa' } }),
      demo('pageview', thanks, { lead, referrer: origin + cart }),
      demo('purchase', thanks, {
        lead,
        referrer: origin + cart,
        revenue: { amount: 49, currency: 'USD' },
        props: { deal: 'chicago-spa', paid: 'true' },
      }),
    ]);
    // One tab, one session; no e-mail address anywhere on the wire.
    expect(new Set(events.map((e) => e.session)).size).toBe(1);
    expect(JSON.stringify(h.server.requests.map((r) => r.body))).not.toMatch(/@|jane/i);
    // text/plain bodies: never a CORS preflight.
    expect(h.server.requests.every((r) => r.body != 'PREFLIGHT')).toBe(true);
    expect(h.server.requests.every((r) => /^text\/plain/.test(String(r.headers['content-type'])))).toBe(true);
    // Engagement of the landing page (>1 s on it) went out as it was left, with its url.
    const engagement = await waitForEvents(h.server, 1, (e) => e.name == 'engagement', 0);
    expect(engagement[0]).toEqual(
      demo('engagement', '/demo/', { engaged_ms: expect.any(Number), scroll: 100, lead }),
    );
    expect(engagement.every((e) => (e.engaged_ms as number) % 1000 == 0)).toBe(true);
    // Events go by fetch (CORS mode); engagement on leaving goes by sendBeacon (no-cors).
    for (const r of h.server.requests) {
      const beacon = (r.body as { name: string }[])[0]!.name == 'engagement';
      expect(r.headers['sec-fetch-mode']).toBe(beacon ? 'no-cors' : 'cors');
    }
    await context.close();
  });
});

describe('navigations are never delayed or broken', () => {
  it('a form that navigates away: counted once when valid, delivered after the page is gone', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    await page.goto(`${origin}/fx/form.html`);
    await page.click('#send'); // empty required field: the browser blocks the submit
    await page.fill('#loose', ''); // novalidate: submits, but the form is invalid
    await Promise.all([page.waitForURL('**/next.html?loose='), page.click('#loose-send')]);
    await page.goto(`${origin}/fx/form.html`);
    await page.fill('#company', 'ACME');
    await Promise.all([page.waitForURL('**/next.html?company=ACME'), page.click('#send')]);
    const events = await waitForEvents(h.server, 5);
    const form = '/fx/form.html';
    expect(events).toEqual([
      wire(origin, 'pageview', form),
      wire(origin, 'pageview', '/fx/next.html?loose=', { referrer: origin + form }),
      wire(origin, 'pageview', form),
      wire(origin, 'lead_form', form, { props: { plan: 'pro' } }),
      wire(origin, 'pageview', '/fx/next.html?company=ACME', { referrer: origin + form }),
    ]);
    await context.close();
  });

  it('a target=_blank link opens its tab at once and is counted once', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    await page.goto(`${origin}/fx/links.html`);
    const [tab] = await Promise.all([context.waitForEvent('page'), page.click('#blank')]);
    await tab.waitForLoadState();
    await page.click('#inner');
    await page.click('#plain');
    const events = await waitForEvents(h.server, 4);
    const links = '/fx/links.html';
    const byTab = (url: string) => events.filter((e) => e.url == origin + url);
    expect(byTab(links)).toEqual([
      wire(origin, 'pageview', links, { variant: 'B' }),
      wire(origin, 'outbound', links, { variant: 'B', props: { to: 'next' } }),
      wire(origin, 'add_to_cart', links, {
        variant: 'B',
        props: { deal: 'chicago-spa' },
        revenue: { amount: 25.5, currency: 'EUR' },
      }),
    ]);
    expect(byTab('/fx/next.html')).toEqual([
      wire(origin, 'pageview', '/fx/next.html', { referrer: origin + links, session: expect.any(String) }),
    ]);
    expect(tab.url()).toBe(`${origin}/fx/next.html`);
    expect(page.url()).toBe(origin + links);
    await context.close();
  });

  it('a back/forward cache restore counts one pageview, in the same session', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    await page.goto(`${origin}/fx/page.html`);
    await page.evaluate(() => ((window as unknown as { alive: number }).alive = 1));
    await page.click('#next');
    await page.waitForURL('**/next.html');
    await waitForEvents(h.server, 2, undefined, 100);
    await page.goBack({ waitUntil: 'commit' });
    await page.waitForFunction(() => document.readyState == 'complete');
    // The restored page is the same document, not a reload: the bfcache was used.
    expect(await page.evaluate(() => (window as unknown as { alive?: number }).alive)).toBe(1);
    const events = await waitForEvents(h.server, 3);
    const first = '/fx/page.html';
    expect(events).toEqual([
      wire(origin, 'pageview', first),
      wire(origin, 'pageview', '/fx/next.html', { referrer: origin + first }),
      wire(origin, 'pageview', first),
    ]);
    expect(new Set(events.map((e) => e.session)).size).toBe(1);
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
    await context.close();
  });
});

/** The demo's lead id: FNV-1a (32 bit) of the normalised e-mail, as hex. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16);
}
