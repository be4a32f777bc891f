// Heatmaps, every engine (CONTRACT.md, "Heatmaps"): the same chunks give the same clicks per
// selector, mean offsets, scroll reach and funnel-split heatmaps on SQLite and on ClickHouse;
// erasing a person takes their pageviews out of the split; retention takes old days away.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeatmapQuery, Store } from '../../src/store/types.js';
import { storeEngines } from './engines.js';
import type { StoredEvent } from '../../src/event.js';
import type { HeatmapClick, HeatmapDevice } from '../../src/heatmaps/capture.js';
import { D0, D1, D2, SITE, storedEvent } from './fixture.js';

const { list: engines, skipClickHouse } = storeEngines('heatmaps', ['heatmap_clicks', 'heatmap_scroll']);

const H = 3_600_000;
let ids = 0;
const click = (selector: string, x: number, y: number, rage = false): HeatmapClick => ({ selector, x, y, rage });

/** An engagement event carrying one chunk, as the collector stores it after enrichment. */
function chunk(visitor: string, ts: number, pagePath: string, device: HeatmapDevice, clicks: HeatmapClick[], scroll: number, seen: number | null = null, lead: string | null = null): StoredEvent {
  const id = `hm${++ids}`;
  return {
    ...storedEvent({ visitor, ts, id, client_ts: ts, name: 'engagement', path: pagePath, url: `https://shop.example.com${pagePath}`, engaged_ms: 1000, scroll, lead }),
    heatmap: { device, clicks, seen },
  };
}

const EVENTS: StoredEvent[] = [
  // Day 0, /deals/spa, desktop: three pageviews; v1's page sends two chunks (hidden, then left).
  chunk('v1', D0 + H, '/deals/spa', 'desktop', [click('#buy', 0.2, 0.8), click('#buy', 0.4, 0.6)], 35),
  chunk('v1', D0 + 2 * H, '/deals/spa', 'desktop', [click('#buy', 0.3, 0.7), click('nav>a:nth-of-type(2)', 0.5, 0.5)], 72, 35),
  chunk('v2', D0 + 3 * H, '/deals/spa', 'desktop', [click("[data-test=\"o'brien\"]", 0.1, 0.1)], 100),
  chunk('v3', D0 + 4 * H, '/deals/spa', 'desktop', [click('#size', 0.5, 0.5), click('#size', 0.5, 0.5), click('#size', 0.5, 0.5, true)], 20, null, 'lead-3'),
  // Same path on a phone, another deal page, another path, another day.
  chunk('v4', D0 + 5 * H, '/deals/spa', 'mobile', [click('#buy', 0.9, 0.1)], 50),
  chunk('v5', D0 + 6 * H, '/deals/tour', 'desktop', [click('#buy', 1, 1)], 10),
  chunk('v5', D0 + 7 * H, '/about', 'desktop', [click('#team', 0, 0)], 100),
  chunk('v6', D1 + H, '/deals/spa', 'desktop', [], 90),
  // A plain event: no chunk, nothing to the heatmap.
  storedEvent({ visitor: 'v7', ts: D0 + H, id: 'plain', client_ts: D0 + H, path: '/deals/spa' }),
];

const query = (pattern: string, device: HeatmapDevice | null, fromMs = D0, toMs = D1): HeatmapQuery => ({ path: pattern, device, range: { fromMs, toMs } });
const reach = (counts: number[]) => counts.map((visitors, i) => ({ depth: (i + 1) * 10, visitors }));

describe.each(engines)('heatmaps on the $name store', (engine) => {
  let store: Store;
  let url: string;

  beforeAll(async () => {
    const database = engine.database();
    url = database.url;
    store = await database.open();
    await store.write({ events: EVENTS.slice(0, 4), bots: [] });
    await store.write({ events: EVENTS.slice(4), bots: [] });
  });
  afterAll(async () => {
    await store?.close();
  });

  it('sums clicks per selector with mean offsets, and counts each 10% of a pageview once', async () => {
    const heatmap = await store.heatmap(SITE, query('/deals/spa', 'desktop'));
    const { topPath: _, ...answer } = heatmap;
    expect(answer).toEqual({
      pageviews: 3,
      clicks: [
        { selector: '#buy', x: 0.3, y: 0.7, count: 3, rage: 0 },
        { selector: '#size', x: 0.5, y: 0.5, count: 3, rage: 1 },
        { selector: "[data-test=\"o'brien\"]", x: 0.1, y: 0.1, count: 1, rage: 0 },
        { selector: 'nav>a:nth-of-type(2)', x: 0.5, y: 0.5, count: 1, rage: 0 },
      ],
      // v1 reached 72% over two chunks (counted once), v2 100%, v3 20%.
      scroll: reach([3, 3, 2, 2, 2, 2, 2, 1, 1, 1]),
    });
    // The same once the summing tables have merged their parts.
    await engine.mergeAll?.(url);
    expect(await store.heatmap(SITE, query('/deals/spa', 'desktop'))).toEqual(heatmap);
  });

  it('keeps device classes, paths and days apart; a pattern sums its pages', async () => {
    const phone = await store.heatmap(SITE, query('/deals/spa', 'mobile'));
    expect(phone.pageviews).toBe(1);
    expect(phone.clicks).toEqual([{ selector: '#buy', x: 0.9, y: 0.1, count: 1, rage: 0 }]);
    expect((await store.heatmap(SITE, query('/deals/spa', 'tablet'))).pageviews).toBe(0);
    const deals = await store.heatmap(SITE, query('/deals/*', null));
    expect(deals.pageviews).toBe(5);
    expect(deals.topPath).toBe('/deals/spa');
    expect(deals.clicks[0]).toEqual({ selector: '#buy', x: 0.56, y: 0.64, count: 5, rage: 0 });
    expect((await store.heatmap(SITE, query('/deals/spa', null, D0, D2))).pageviews).toBe(5);
    expect((await store.heatmap(SITE, query('/deals/spa', null, D1, D2))).pageviews).toBe(1);
    expect((await store.heatmap(SITE, query('/about', null))).clicks).toEqual([{ selector: '#team', x: 0, y: 0, count: 1, rage: 0 }]);
    expect((await store.heatmap('other.example.com', query('/*', null))).pageviews).toBe(0);
  });

  it('splits by people: only their pageviews inside their spans count', async () => {
    const people = [
      { visitor: 'v1', lead: null, fromMs: D0, toMs: D0 + 90 * 60_000 },
      { visitor: 'nobody', lead: 'lead-3', fromMs: D0, toMs: D1 },
    ];
    const split = await store.heatmapOfPeople(SITE, query('/deals/*', 'desktop'), people);
    // v1's second chunk is after its span: only its first counts; v3 is in as lead-3.
    expect(split.pageviews).toBe(2);
    expect(split.clicks).toEqual([
      { selector: '#size', x: 0.5, y: 0.5, count: 3, rage: 1 },
      { selector: '#buy', x: 0.3, y: 0.7, count: 2, rage: 0 },
    ]);
    expect(split.scroll).toEqual(reach([2, 2, 1, 0, 0, 0, 0, 0, 0, 0]));
    expect((await store.heatmapOfPeople(SITE, query('/deals/*', null), [])).pageviews).toBe(0);
  });

  it('erases a visitor’s and a lead’s pageviews; the anonymous sums stay', async () => {
    const everyone = [
      { visitor: 'v1', lead: null, fromMs: D0, toMs: D2 },
      { visitor: 'v3', lead: 'lead-3', fromMs: D0, toMs: D2 },
    ];
    await store.deleteVisitor(SITE, 'v1');
    await store.deleteLead(SITE, 'lead-3');
    expect((await store.heatmapOfPeople(SITE, query('/deals/*', null), everyone)).pageviews).toBe(0);
    expect((await store.heatmap(SITE, query('/deals/spa', 'desktop'))).pageviews).toBe(3);
  });

  it('expires the pageviews and the days before the retention horizon', async () => {
    await store.expireEvents(SITE, D1, 10_000);
    expect((await store.heatmap(SITE, query('/deals/*', null, D0, D2))).pageviews).toBe(1);
    expect((await store.heatmapOfPeople(SITE, query('/*', null, D0, D2), [{ visitor: 'v5', lead: null, fromMs: D0, toMs: D2 }])).pageviews).toBe(0);
    expect((await store.heatmapOfPeople(SITE, query('/*', null, D0, D2), [{ visitor: 'v6', lead: null, fromMs: D0, toMs: D2 }])).pageviews).toBe(1);
  });

  // ClickHouse has no transaction to tell a retried copy at write time (events are de-duplicated
  // when read): a copy stored twice counts its clicks twice there. SQLite ignores it.
  it.skipIf(engine.name !== 'sqlite')('adds nothing for a retried event already stored', async () => {
    const before = await store.heatmap(SITE, query('/deals/*', null, D1, D2));
    await store.write({ events: [EVENTS[7]], bots: [] });
    expect(await store.heatmap(SITE, query('/deals/*', null, D1, D2))).toEqual(before);
  });
});
