// The journeys every store must store and count alike: several visitors over three UTC days
// (across a month boundary), retried events (same batch, later batch, a later arrival with a
// different server time), events without ids, bots, and a second site.
import type { StoredEvent } from '../../src/event.js';
import type { WriteBatch } from '../../src/store/types.js';
import { DAY_MS } from '../../src/time.js';

export const SITE = 'shop.example.com';
export const OTHER = 'other.example.com';
const H = 3_600_000;

/** 2026-03-30, -31 and 2026-04-01 (UTC), then the day after. */
export const D0 = Date.UTC(2026, 2, 30);
export const D1 = D0 + DAY_MS;
export const D2 = D1 + DAY_MS;
export const D3 = D2 + DAY_MS;

export function storedEvent(overrides: Partial<StoredEvent> & Pick<StoredEvent, 'visitor' | 'ts'>): StoredEvent {
  return {
    site: SITE,
    id: null,
    client_ts: 0,
    name: 'pageview',
    session: `s-${overrides.visitor}`,
    lead: null,
    url: 'https://shop.example.com/',
    path: '/',
    landing: '/',
    referrer: null,
    channel: 'Direct',
    source: null,
    medium: null,
    campaign: null,
    term: null,
    content: null,
    browser: 'Chrome',
    os: 'Windows',
    device: 'desktop',
    props: null,
    revenue_amount: null,
    revenue_currency: null,
    engaged_ms: null,
    scroll: null,
    variant: null,
    ...overrides,
  };
}

/** An event as the snippet sends it: id and client time, stored at that time. */
const sent = (id: string, ts: number, overrides: Partial<StoredEvent> & Pick<StoredEvent, 'visitor'>) =>
  storedEvent({ id, client_ts: ts, ts, ...overrides });

const a1 = sent('a1', D0 + H, { visitor: 'v1' });
const noId = storedEvent({ visitor: 'v2', ts: D0 + 2 * H, path: '/about', url: 'https://shop.example.com/about' });
// The client's clock runs 10 minutes ahead, so each arrival is stored at its own arrival time.
const aheadFirst = storedEvent({ id: 'c2', client_ts: D2 + 10 * 60_000, ts: D1 + DAY_MS - 1000, visitor: 'v4' });

export const BATCHES: WriteBatch[] = [
  {
    events: [
      a1,
      sent('a2', D0 + H + 30_000, {
        visitor: 'v1', name: 'signup', props: { plan: 'gold', paid: true, seats: 3 },
        revenue_amount: 25, revenue_currency: 'USD',
      }),
      noId,
      { ...noId }, // no id: never a duplicate, however alike
      { ...a1 }, // retried within one batch
    ],
    bots: [{ site: SITE, day: '2026-03-30', count: 3 }],
  },
  {
    events: [
      { ...a1 }, // retried in a later batch
      // An id without a client time: both arrivals are stored at their arrival time.
      storedEvent({ id: 'b1', client_ts: 0, ts: D0 + 5 * H, visitor: 'v3' }),
      storedEvent({ id: 'b1', client_ts: 0, ts: D0 + 5 * H + 10_000, visitor: 'v3' }),
      // The same id at another client time is another event.
      sent('x1', D0 + 6 * H, { visitor: 'v3', name: 'click' }),
      sent('x1', D0 + 6 * H + 1, { visitor: 'v3', name: 'click' }),
      // The same id on another site is another event.
      sent('a1', D0 + H, { visitor: 'v9', site: OTHER }),
    ],
    bots: [{ site: SITE, day: '2026-03-30', count: 1 }, { site: OTHER, day: '2026-03-30', count: 7 }],
  },
  {
    events: [
      sent('c1', D1 + 3 * H, { visitor: 'v2', name: 'click', referrer: "https://o'reilly.example/\\path" }),
      aheadFirst,
    ],
    bots: [{ site: SITE, day: '2026-03-31', count: 2 }],
  },
  {
    events: [
      // The retry of c2 arrives after midnight: it must not count on the new day.
      { ...aheadFirst, ts: D2 + 5000 },
      sent('d1', D2 + H, { visitor: 'v1', lead: 'crm-4711' }),
      storedEvent({ visitor: 'v5', ts: D2 + 2 * H }),
      sent('d2', D2 + 2 * H + 1, { visitor: 'v5', name: 'add_to_cart', variant: 'B' }),
      sent('e1', D3, { visitor: 'v6' }),
    ],
    bots: [{ site: SITE, day: '2026-04-01', count: 5 }],
  },
];

const range = (fromMs: number, toMs: number) => ({ fromMs, toMs });

/** [site, range, expected stats], worked out by hand from BATCHES. */
export const EXPECTED_STATS = [
  // a1 once, a2, the two id-less pageviews, b1 once, x1 twice; v1..v3; bots 3 + 1.
  { name: 'the first day', site: SITE, range: range(D0, D1), stats: { events: 7, pageviews: 4, visitors: 3, bots: 4 } },
  // c1, and c2 stored before midnight.
  { name: 'the second day', site: SITE, range: range(D1, D2), stats: { events: 2, pageviews: 1, visitors: 2, bots: 2 } },
  // d1, v5's two; not the retry of c2.
  { name: 'the third day', site: SITE, range: range(D2, D3), stats: { events: 3, pageviews: 2, visitors: 2, bots: 5 } },
  { name: 'all three days', site: SITE, range: range(D0, D3), stats: { events: 12, pageviews: 7, visitors: 5, bots: 11 } },
  { name: 'the day after', site: SITE, range: range(D3, D3 + DAY_MS), stats: { events: 1, pageviews: 1, visitors: 1, bots: 0 } },
  { name: 'the other site', site: OTHER, range: range(D0, D3), stats: { events: 1, pageviews: 1, visitors: 1, bots: 7 } },
  { name: 'an unknown site', site: "nope' OR 1=1 --", range: range(D0, D3), stats: { events: 0, pageviews: 0, visitors: 0, bots: 0 } },
] as const;
