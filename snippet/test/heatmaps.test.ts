// The heatmap capture (f-heatmaps.js) in Chromium, over real HTTP: the exact `heatmap` field it
// adds to the page's engagement events (selectors, offsets, rage, viewport, the depth already
// reported), per pageview of a single-page app, and nothing of what is typed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../test-support/browser';
import { buildHeatmapCapture, buildSnippet } from '../build';
import { startTestServer, type TestServer } from './server';
import { waitForEvents, wire } from './helpers';

let browser: Browser;
let server: TestServer;
let origin: string;

beforeAll(async () => {
  const [{ js }, capture] = await Promise.all([buildSnippet(), buildHeatmapCapture()]);
  [browser, server] = await Promise.all([launchChromium(), startTestServer({ js, files: { '/fx/f-heatmaps.js': capture.js, '/f-heatmaps.js': capture.js } })]);
  origin = server.origin;
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const engagements = (e: Record<string, unknown>) => e.name == 'engagement';
async function clickAt(page: Page, selector: string, x: number, y: number) {
  const box = (await page.locator(selector).boundingBox())!;
  await page.mouse.click(box.x + x * box.width, box.y + y * box.height);
}
/** The page hidden (or shown again), as switching tabs does: the event bubbles to window. */
const setHidden = (page: Page, hidden: boolean) => page.evaluate((value) => {
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => value });
  document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
}, hidden);

describe('heatmap capture', () => {
  it('sends each pageview’s clicks and scroll with its engagement, exactly', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    await page.goto(`${origin}/fx/heatmaps.html`);
    await page.waitForFunction(() => typeof (window as unknown as { funnel?: { h?: unknown } }).funnel?.h == 'function');
    await clickAt(page, '#go', 0.25, 0.5);
    for (let i = 0; i < 3; i++) await clickAt(page, '#rage', 0.5, 0.5);
    await clickAt(page, '#name', 0.5, 0.5);
    await page.keyboard.type('never-sent-8812');
    await clickAt(page, 'section p >> nth=1', 0.5, 0.5);
    await page.evaluate(() => window.scrollTo(0, 1440)); // (1440 + 720) / 2880 = 75 %
    await page.waitForTimeout(1_300);
    await page.evaluate(() => window.scrollTo(0, 0));
    // A new page of the app: the last one's engagement goes with its clicks.
    await page.evaluate("history.pushState({}, '', '/fx/heatmaps/next')");
    const [first] = await waitForEvents(server, 1, engagements, 0);
    expect(first).toEqual(wire(origin, 'engagement', '/fx/heatmaps.html', {
      engaged_ms: expect.any(Number),
      scroll: 75,
      heatmap: {
        viewport: 1280,
        clicks: [
          { selector: '#go', x: 0.25, y: 0.5 },
          { selector: '#rage', x: 0.5, y: 0.5 },
          { selector: '#rage', x: 0.5, y: 0.5 },
          { selector: '#rage', x: 0.5, y: 0.5, rage: true },
          // A form field: never its id, its position (the only input here).
          { selector: 'input', x: 0.5, y: 0.5 },
          { selector: 'section[data-block="promo"]>p:nth-of-type(2)', x: 0.5, y: 0.5 },
        ],
      },
    }));

    // The next page starts over: hidden, its first chunk (no `seen`); shown, a click, hidden
    // again: the second chunk says the depth the first reported.
    await page.waitForTimeout(1_300);
    await setHidden(page, true);
    await setHidden(page, false);
    await clickAt(page, '#go', 0.5, 0.75);
    await page.waitForTimeout(1_300);
    await setHidden(page, true);
    const chunks = await waitForEvents(server, 3, engagements, 300);
    expect(chunks.slice(1)).toEqual([
      wire(origin, 'engagement', '/fx/heatmaps/next', { engaged_ms: expect.any(Number), scroll: 25, heatmap: { viewport: 1280, clicks: [] } }),
      wire(origin, 'engagement', '/fx/heatmaps/next', { engaged_ms: expect.any(Number), scroll: 25, heatmap: { viewport: 1280, clicks: [{ selector: '#go', x: 0.5, y: 0.75 }], seen: 25 } }),
    ]);
    expect(JSON.stringify(server.events())).not.toContain('never-sent-8812');
    await context.close();
  });
});
