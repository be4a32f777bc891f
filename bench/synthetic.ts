// Synthetic stored events for the report benchmark and the dashboard's 1M-event test: many
// visitors, each walking some way down a shop funnel, written straight into a store.
import type { StoredEvent } from '../ingest/src/event.js';
import type { Store } from '../ingest/src/store/types.js';
import { DAY_MS } from '../ingest/src/time.js';

const channels = [['Organic Search', 'google'], ['Direct', null], ['Email', 'newsletter'], ['Paid Search', 'google'], ['Organic Social', 'facebook']] as const;

export type MakeEvent = (name: string, path: string, extra?: Partial<StoredEvent>) => StoredEvent;

/** Makes visitor `n`'s events, each a few seconds after the one before, from `start`. */
export function visitorOf(site: string, n: number, start: number): MakeEvent {
  const [channel, source] = channels[n % channels.length];
  let ts = start;
  return (name, path, extra = {}) => {
    ts += 5_000 + (n % 60) * 1000;
    return {
      site, id: `${n}-${ts}`, client_ts: ts, ts, name, visitor: `v${n}`, session: `s${n}`, lead: null,
      url: `https://${site}${path}`, path, landing: '/', referrer: null, channel, source, medium: null, campaign: null,
      term: null, content: null, browser: n % 3 ? 'Chrome' : 'Safari', os: 'Windows', device: n % 4 ? 'desktop' : 'mobile',
      props: null, revenue_amount: null, revenue_currency: null, engaged_ms: null, scroll: null, variant: n % 2 ? 'A' : 'B',
      ...extra,
    };
  };
}

/**
 * Writes `visitors` visitors' events, spread over `spanDays` days ending now, in transactions
 * of 10,000; `walk(make, n)` gives visitor n's events. Returns how many were written.
 */
export async function fillStore(store: Store, site: string, visitors: number, spanDays: number,
  walk: (make: MakeEvent, n: number) => Iterable<StoredEvent>): Promise<number> {
  const span = spanDays * DAY_MS;
  const end = Date.now();
  let batch: StoredEvent[] = [];
  let written = 0;
  const flush = async () => {
    await store.write({ events: batch, bots: [] });
    written += batch.length;
    batch = [];
  };
  for (let n = 0; n < visitors; n++) {
    const start = end - span + Math.floor((n / visitors) * (span - DAY_MS));
    for (const event of walk(visitorOf(site, n, start), n)) {
      batch.push(event);
      if (batch.length === 10_000) await flush();
    }
  }
  await flush();
  return written;
}

/** The shop's 5-step funnel that the synthetic visitors walk down. */
export const DEAL_FUNNEL = {
  name: 'Deal purchase',
  window: '7d',
  steps: [
    { name: 'Landing', event: 'pageview', path: '/' },
    { name: 'Signup', event: 'signup' },
    { name: 'Deal detail', event: 'pageview', path: '/deals/*' },
    { name: 'Cart', event: 'add_to_cart' },
    { name: 'Purchase', event: 'purchase', props: { paid: 'true' } },
  ],
};

const deals = ['/deals/chicago-spa', '/deals/sushi-night', '/deals/yoga-month', '/about', '/cart'];

/** A visitor's visit: a landing and a walk down the funnel that stops at a step of its own, with some detours. */
export function* shopWalk(make: MakeEvent, n: number): Generator<StoredEvent> {
  const depth = n % 7; // 0..6: how far down this visitor goes
  // Browsing that is not a funnel step (a deal seen before the landing page does not count).
  yield make('pageview', deals[n % 5]);
  if (depth === 0) yield make('pageview', '/about');
  yield make('pageview', '/', { engaged_ms: 3000 });
  if (depth >= 1) yield make('signup', '/');
  if (depth >= 2) yield make('pageview', deals[n % 3], { engaged_ms: 9000, scroll: 70 });
  if (depth >= 3) yield make('add_to_cart', deals[n % 3], { props: { deal: 'spa' } });
  if (depth >= 4) yield make('purchase', '/thanks', { props: { paid: 'true' }, revenue_amount: 25, revenue_currency: 'USD' });
  if (depth === 5 || depth === 6) yield make('pageview', deals[3 + (n % 2)]);
}
