// The tracker: capture (pageviews, engagement, data-funnel-* markup) and transport (the wire
// event of CONTRACT.md "Ingestion", its delivery and retry). One closure rather than one
// module per concern: shared locals minify to one letter, which is worth ~50 B gzipped.
// The module reads browser globals when it loads: the ESM build imports it lazily from init().

export type PropValue = string | number | boolean;

/** What `funnel(name, options)` and `track(name, options)` accept. */
export interface TrackOptions {
  props?: Record<string, PropValue>;
  revenue?: { amount: number; currency: string };
  /** Identifies the lead; kept in sessionStorage and sent with every later event of the tab. */
  lead?: string;
  /** The lead's e-mail, for the site's CRM connectors: sent with this event only, never kept. */
  email?: string;
}

/** Internal extras, named as on the wire because they are spread into the event. */
interface EventFields extends TrackOptions {
  url?: string;
  engaged_ms?: number;
  scroll?: number;
}

export type Send = (name: string, fields?: EventFields, beacon?: unknown) => void;

/** `h`, set by the heatmap capture file (heatmaps.ts): fields it adds to each engagement event. */
type Hooked = Send & { h?: () => object };

const U = undefined;
const d = document;
const l = location;
const n = navigator;
const on = addEventListener;

/** sessionStorage get (no value) or set; storage that throws (disabled, sandboxed) reads as empty. */
const session = (key: string, value?: string): string | undefined => {
  try {
    return value == U ? sessionStorage[key] : (sessionStorage[key] = value);
  } catch {}
};

const randomId = (): string => Math.random().toString(36).slice(2);

/**
 * True when nothing may be sent: the opt-out flag `localStorage.fb_ignore = '1'`, or a local
 * page (hostname `localhost`, or none: file:) unless `allowLocal` (`data-allow-local`).
 */
export const blocked = (allowLocal: boolean): boolean | undefined => {
  try {
    return localStorage.fb_ignore == '1' || (!allowLocal && /^(localhost)?$/.test(l.hostname));
  } catch {}
};

export { d };

/** Runs `start` now, or once a prerendered page is actually shown (so it counts once). */
export const whenShown = (start: () => void) =>
  (d as { prerendering?: boolean }).prerendering
    ? d.addEventListener('prerenderingchange', start)
    : start();

/** The settings, named like the script's data-* attributes so /f.js can pass its dataset. */
export interface TrackerConfig {
  site?: string;
  /** `'visitor'` keeps a first-party visitor id in localStorage. */
  persist?: string;
}

/**
 * Starts capturing for `config.site`, sending to `api`, and returns the function that sends
 * a named event. Without `persist: 'visitor'` nothing is stored beyond the tab's session id,
 * lead id and retry queue (sessionStorage).
 */
export function startTracker(config: TrackerConfig, api: string | URL): Send {
  const sessionId = session('fb_s') || session('fb_s', randomId());
  let visitor: string | undefined;
  if (config.persist == 'visitor') {
    try {
      visitor = localStorage.fb_v ||= randomId() + randomId();
    } catch {}
  }

  // ---- Transport. The body is a JSON string, so fetch and sendBeacon send it as text/plain:
  // no CORS preflight. Nothing waits on the network, so a click, a submit or a navigation
  // proceeds at once; keepalive lets the request outlive the page.
  // Events that could not be delivered (offline, 429, 5xx; a 400/403/413 never succeeds
  // later) wait in sessionStorage for the next `online` event or the next page of the tab,
  // and go out as one array; the collector stores each id once, so a retry never double counts.
  const unsent = (): object[] => JSON.parse(session('fb_q') || '[]');
  const post = (events: object[], beacon?: unknown) => {
    // Always an array (the contract takes one event or up to 100): one code path.
    const body = JSON.stringify(events);
    const keep = () => session('fb_q', JSON.stringify(unsent().concat(events).slice(-100)));
    if (!n.onLine) keep();
    else if (!(beacon && n.sendBeacon(api, body)))
      fetch(api, { method: 'POST', body, keepalive: true }).then((r) => r.status > 428 && keep(), keep);
  };
  const retry = () => {
    const events = unsent();
    session('fb_q', '[]');
    if (events[0]) post(events);
  };
  on('online', retry);
  retry();

  // ts strictly increases within the page: events made in the same millisecond (the pre-load
  // queue) keep their order for the funnel engine whatever order the requests arrive in.
  let last = 0;
  const send: Send = (name, fields, beacon) => {
    const ts = (last = Math.max(Date.now(), last + 1));
    post(
      [
        {
          site: config.site,
          name,
          url: l.href,
          referrer: d.referrer,
          id: ts + randomId(),
          ts,
          session: sessionId,
          visitor,
          // Sets the lead when given, reads the one given earlier otherwise.
          lead: session('fb_l', fields?.lead),
          // <body> first, then <html>; an empty value is no variant (the collector refuses '').
          variant: d.body?.closest<HTMLElement>('[data-funnel-variant]')?.dataset.funnelVariant || U,
          wd: n.webdriver || U,
          ...fields,
        },
      ],
      beacon,
    );
  };

  // ---- Declarative capture: the event named by a data-funnel-* attribute, with the
  // element's props and revenue. An empty name goes out as is (the collector answers 400).
  const fire = (el: HTMLElement, name?: string) => {
    let props: Record<string, PropValue> | undefined;
    for (const a of el.attributes) {
      const key = /^data-funnel-prop-(.+)/.exec(a.name);
      if (key) (props ||= {})[key[1]] = a.value;
    }
    const { funnelRevenue: amount, funnelCurrency: currency } = el.dataset;
    send(name!, { props, revenue: amount ? { amount: +amount, currency: currency! } : U });
  };

  // ---- Pageviews and engagement. `engaged` ms accumulate while the page is visible and
  // focused, sampled each second (the same clock rescans for data-funnel-view elements:
  // together far smaller than focus/blur bookkeeping plus a MutationObserver); `depth` is the
  // deepest scroll in %. They go out as their own `engagement` event with the url of the page
  // they measure, when it is hidden or left (beacon) and before the next SPA pageview: one
  // event type for both cases is smaller than also piggybacking on pageviews. Each carries
  // the ms since the previous one (the collector sums) and the deepest scroll so far (the
  // collector keeps the maximum).
  let engaged = 0;
  let depth = 0;
  let path: string | undefined;
  let url: string;
  const measure = () => {
    depth = Math.max(
      depth,
      Math.round(Math.min(1, (scrollY + innerHeight) / d.documentElement.scrollHeight) * 100),
    );
  };
  // `h`: the heatmap capture's fields for this page, when f-heatmaps.js is loaded (heatmaps.ts).
  const engagement = (leaving?: unknown) => {
    if (engaged) send('engagement', { url, engaged_ms: engaged, scroll: depth, ...(send as Hooked).h?.() }, leaving);
    engaged = 0;
  };
  // A pageview when the path changes (push, replace, back/forward; a query-only change is
  // the same page), or forced by a bfcache restore.
  const page = (force?: unknown) => {
    if (force || l.pathname != path) {
      engagement();
      path = l.pathname;
      url = l.href;
      depth = 0;
      measure();
      send('pageview');
    }
  };
  for (const key of ['pushState', 'replaceState'] as const) {
    const original = history[key];
    history[key] = (...args: Parameters<History['pushState']>) => {
      original.apply(history, args);
      page();
    };
  }
  on('popstate', () => page());
  on('pageshow', (e) => e.persisted && page(1));
  // Leaving the page (link, close, bfcache) makes it hidden first in current browsers, so
  // visibilitychange also covers pagehide. It bubbles from the document to window, like click
  // and submit below: one listener function for all (bytes paid for the heatmap loader).
  on('visibilitychange', () => d.hidden && engagement(1));
  on('scroll', measure); // scroll listeners cannot delay scrolling: no need for passive
  page();

  // Capture phase, so a site handler that stops propagation cannot hide the event; nothing
  // is prevented, so links (target=_blank too) and submits go on untouched. A form counts on
  // a valid submit, any other element on click.
  const act = (e: Event) => {
    const target = e.target as HTMLFormElement;
    const el = target.closest<HTMLElement>('[data-funnel-event]');
    if (el && (e.type == 'submit' ? el == target && target.checkValidity() : el.tagName != 'FORM'))
      fire(el, el.dataset.funnelEvent);
  };
  on('click', act, true);
  on('submit', act, true);

  // data-funnel-view: once per element, the first time it intersects the viewport (a
  // display:none popup does not). The clock picks up elements added later (observing twice
  // is a no-op); the expando `fbView` remembers that an element fired.
  const views = new IntersectionObserver((entries) =>
    entries.map((entry) => {
      const el = entry.target as HTMLElement & { fbView?: string };
      if (entry.isIntersecting && !el.fbView) fire(el, (el.fbView = el.dataset.funnelView));
    }),
  );
  const scan = () => d.querySelectorAll('[data-funnel-view]').forEach((el) => views.observe(el));
  scan();
  setInterval(() => {
    if (!d.hidden && d.hasFocus()) engaged += 1e3;
    scan();
  }, 1e3);

  return send;
}
