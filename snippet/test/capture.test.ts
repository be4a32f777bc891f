// What the snippet captures and how it delivers it, in Chromium over real HTTP: SPA navigation
// without double counts, the pre-load queue and the lead, retries after a 503 and offline,
// engagement, data-funnel-view, identity options, and the ESM build.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  newContext,
  startHarness,
  waitForEvents,
  wire,
  type Harness,
  type WireEvent,
} from './helpers';

let h: Harness;
let origin: string;
beforeAll(async () => {
  h = await startHarness();
  origin = h.server.origin;
});
afterAll(() => h?.close());
beforeEach(() => {
  h.server.requests.length = 0;
  h.server.failNext(0);
});

const pageviews = (e: Record<string, unknown>) => e.name == 'pageview';
const go = (page: Page, call: string) => page.evaluate(call);

describe('pageviews', () => {
  it('SPA navigation: push, replace and back count each new path once, query-only changes never', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    await page.goto(`${origin}/fx/spa.html`);
    await waitForEvents(h.server, 1, pageviews, 0);
    await go(page, "history.pushState({}, '', '/fx/spa/deals')"); // counts
    await go(page, "history.replaceState({}, '', '/fx/spa/deals?sort=price')"); // query only
    await go(page, "history.pushState({}, '', '/fx/spa/deals?page=2')"); // query only
    await go(page, "history.replaceState({}, '', '/fx/spa/deal/1')"); // new path: counts once
    await go(page, "history.replaceState({ tab: 2 }, '', '/fx/spa/deal/1')"); // same URL again
    await go(page, "history.pushState({}, '', '#reviews')"); // hash only
    await page.goBack({ waitUntil: 'commit' }); // popstate to /deal/1: same path
    await page.goBack({ waitUntil: 'commit' }); // popstate to /deals?sort=price: counts
    const events = await waitForEvents(h.server, 4, pageviews);
    expect(events).toEqual([
      wire(origin, 'pageview', '/fx/spa.html'),
      wire(origin, 'pageview', '/fx/spa/deals'),
      wire(origin, 'pageview', '/fx/spa/deal/1'),
      wire(origin, 'pageview', '/fx/spa/deals?sort=price'),
    ]);
    await context.close();
  });

  it('engagement of the page being left goes out before the next SPA pageview', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    await page.goto(`${origin}/fx/spa.html`);
    await waitForEvents(h.server, 1, pageviews, 0);
    await page.evaluate(() => window.scrollTo(0, 1440)); // (1440 + 720) / 2880 = 75 %
    await page.waitForTimeout(2300);
    await page.evaluate(() => window.scrollTo(0, 0)); // the deepest scroll is kept
    await go(page, "history.pushState({}, '', '/fx/spa/next')");
    const events = await waitForEvents(h.server, 3, () => true);
    expect(events).toEqual([
      wire(origin, 'pageview', '/fx/spa.html'),
      wire(origin, 'engagement', '/fx/spa.html', { engaged_ms: expect.any(Number), scroll: 75 }),
      wire(origin, 'pageview', '/fx/spa/next'),
    ]);
    // Engaged time is sampled each second while the page is visible and focused (~2.3 s here;
    // a loaded machine may delay a tick).
    const engaged = events[1]!.engaged_ms as number;
    expect(engaged % 1000).toBe(0);
    expect(engaged).toBeGreaterThanOrEqual(1000);
    expect(engaged).toBeLessThanOrEqual(3000);
    await context.close();
  });

  it('a prerendered page counts once it is shown, not before', async () => {
    const context = await newContext(h);
    // Chromium here does not prerender speculation rules headless; emulate the API it exposes.
    await context.addInitScript(() => {
      let prerendering = true;
      Object.defineProperty(document, 'prerendering', { get: () => prerendering });
      (window as unknown as { activate: () => void }).activate = () => {
        prerendering = false;
        document.dispatchEvent(new Event('prerenderingchange'));
      };
    });
    const page = await context.newPage();
    await page.goto(`${origin}/fx/queue.html`);
    await page.waitForTimeout(500);
    expect(h.server.requests).toEqual([]);
    await page.evaluate(() => (window as unknown as { activate: () => void }).activate());
    const events = await waitForEvents(h.server, 3);
    expect(events.map((e) => e.name)).toEqual(['pageview', 'signup', 'deal_view']);
    await context.close();
  });

  it('the tag pasted twice still counts once', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    await page.goto(`${origin}/fx/twice.html`);
    expect(await waitForEvents(h.server, 1)).toEqual([wire(origin, 'pageview', '/fx/twice.html')]);
    await context.close();
  });
});

describe('the JavaScript API', () => {
  it('sends the pre-load queue in order, and the lead rides on every later event of the tab', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    await page.goto(`${origin}/fx/queue.html`);
    await waitForEvents(h.server, 3, undefined, 0);
    await page.click('#next');
    const events = await waitForEvents(h.server, 4);
    const queue = '/fx/queue.html';
    const lead = 'crm-4711';
    expect(events).toEqual([
      wire(origin, 'pageview', queue),
      wire(origin, 'signup', queue, { lead }),
      wire(origin, 'deal_view', queue, { lead, props: { deal: 'chicago-spa', price: 49, hot: true } }),
      wire(origin, 'pageview', '/fx/next.html', { lead, referrer: origin + queue }),
    ]);
    await context.close();
  });

  it('the ESM module: same wire format, calls before init wait for it', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    await page.goto(`${origin}/fx/esm.html`);
    await waitForEvents(h.server, 2, undefined, 0);
    await page.click('#later');
    const esm = '/fx/esm.html';
    expect(await waitForEvents(h.server, 3)).toEqual([
      wire(origin, 'pageview', esm),
      wire(origin, 'early', esm, { props: { from: 'module' } }),
      wire(origin, 'purchase', esm, { lead: 'crm-1', revenue: { amount: 10, currency: 'USD' } }),
    ]);
    await context.close();
  });
});

describe('delivery', () => {
  it('an event the collector answered 503 is retried on the next page, same id, once', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    h.server.failNext(2);
    await page.goto(`${origin}/fx/page.html`);
    await page.evaluate(() => (window as unknown as { funnel: (n: string) => void }).funnel('cta'));
    await page.waitForFunction(() => JSON.parse(sessionStorage.fb_q || '[]').length == 2);
    await page.click('#next');
    await waitForEvents(h.server, 4);
    const first = '/fx/page.html';
    const pv = wire(origin, 'pageview', first);
    const cta = wire(origin, 'cta', first);
    // Requests made together may arrive in any order: find each by what it carries.
    const carrying = (name: string, url: string, status: number) =>
      h.server.requests.find(
        (r) =>
          r.status == status &&
          (r.body as WireEvent[]).some((e) => e.name == name && e.url == origin + url),
      );
    const failedPv = carrying('pageview', first, 503);
    const failedCta = carrying('cta', first, 503);
    const retried = carrying('pageview', first, 202);
    const next = carrying('pageview', '/fx/next.html', 202);
    expect(h.server.requests.filter((r) => r.status == 503)).toHaveLength(2);
    expect(failedPv).toMatchObject({ status: 503, body: [pv] });
    expect(failedCta).toMatchObject({ status: 503, body: [cta] });
    // One request carries the whole retry queue, as an array, with the original ids.
    expect(retried).toMatchObject({ status: 202, body: [pv, cta] });
    const retriedIds = (retried!.body as { id: string }[]).map((e) => e.id);
    expect(retriedIds).toEqual([
      (failedPv!.body as { id: string }[])[0]!.id,
      (failedCta!.body as { id: string }[])[0]!.id,
    ]);
    expect(next).toMatchObject({
      status: 202,
      body: [wire(origin, 'pageview', '/fx/next.html', { referrer: origin + first })],
    });
    expect(await page.evaluate(() => sessionStorage.fb_q)).toBe('[]');
    await context.close();
  });

  it('an event made offline is sent once the page is back online', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    await page.goto(`${origin}/fx/page.html`);
    await waitForEvents(h.server, 1, undefined, 0);
    await context.setOffline(true);
    await page.evaluate(() =>
      (window as unknown as { funnel: (n: string, o: object) => void }).funnel('offline_click', {
        props: { n: 1 },
      }),
    );
    await page.waitForFunction(() => JSON.parse(sessionStorage.fb_q || '[]').length == 1);
    expect(h.server.events()).toHaveLength(1);
    await context.setOffline(false);
    const events = await waitForEvents(h.server, 2);
    expect(events).toEqual([
      wire(origin, 'pageview', '/fx/page.html'),
      wire(origin, 'offline_click', '/fx/page.html', { props: { n: 1 } }),
    ]);
    await context.close();
  });
});

describe('data-funnel-view', () => {
  it('fires once per element, when it first becomes visible, including elements added later', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    await page.goto(`${origin}/fx/views.html`);
    await waitForEvents(h.server, 2, undefined, 0); // pageview, then the late banner
    await page.evaluate(() => (document.getElementById('popup')!.hidden = false));
    await waitForEvents(h.server, 3, undefined, 0);
    await page.evaluate(async () => {
      const popup = document.getElementById('popup')!;
      popup.hidden = true;
      await new Promise((r) => setTimeout(r, 100));
      popup.hidden = false; // shown again: not a second view
    });
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    const views = '/fx/views.html';
    expect(await waitForEvents(h.server, 4)).toEqual([
      wire(origin, 'pageview', views),
      wire(origin, 'late_banner', views),
      wire(origin, 'popup_view', views, { props: { offer: 'WELCOME10' } }),
      wire(origin, 'footer_seen', views),
    ]);
    await context.close();
  });
});

describe('identity and consent', () => {
  it('is cookieless by default: no cookie, no localStorage, only the tab session in sessionStorage', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    await page.goto(`${origin}/fx/queue.html`);
    await waitForEvents(h.server, 3, undefined, 0);
    expect(await context.cookies()).toEqual([]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await page.evaluate(() => Object.keys(sessionStorage).sort())).toEqual([
      'fb_l',
      'fb_q',
      'fb_s',
    ]);
    await context.close();
  });

  it('data-persist="visitor" keeps one first-party visitor id across tabs', async () => {
    const context = await newContext(h);
    const first = await context.newPage();
    await first.goto(`${origin}/fx/persist.html`);
    const second = await context.newPage();
    await second.goto(`${origin}/fx/persist.html`);
    const events = await waitForEvents(h.server, 2);
    const visitor = await first.evaluate(() => localStorage.fb_v);
    expect(visitor).toMatch(/^[0-9a-z]{8,32}$/);
    expect(events).toEqual([
      wire(origin, 'pageview', '/fx/persist.html', { visitor }),
      wire(origin, 'pageview', '/fx/persist.html', { visitor }),
    ]);
    expect(events[0]!.session).not.toBe(events[1]!.session); // a session is a tab
    await context.close();
  });

  it('honours the opt-out flag localStorage.fb_ignore', async () => {
    const context = await newContext(h);
    await context.addInitScript(() => localStorage.setItem('fb_ignore', '1'));
    const page = await context.newPage();
    await page.goto(`${origin}/fx/queue.html`);
    await page.click('#next');
    await page.waitForTimeout(500);
    expect(h.server.requests).toEqual([]);
    await context.close();
  });

  it('skips localhost unless data-allow-local', async () => {
    const context = await newContext(h);
    const page = await context.newPage();
    const port = new URL(origin).port;
    await page.goto(`http://localhost:${port}/fx/strict-local.html`);
    await page.waitForTimeout(500);
    expect(h.server.requests).toEqual([]);
    await page.goto(`${origin}/fx/strict-local.html`); // 127.0.0.1 is not skipped
    expect(await waitForEvents(h.server, 1)).toEqual([
      wire(origin, 'pageview', '/fx/strict-local.html', { referrer: expect.any(String) }),
    ]);
    await context.close();
  });
});
