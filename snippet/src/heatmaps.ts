// /f-heatmaps.js: click and scroll capture (CONTRACT.md, "Heatmaps"), loaded by /f.js only on
// pages whose tag has data-heatmaps, and only once /f.js runs: opted-out and local pages never
// load it, and automated browsers' events (`wd`) are dropped by the collector with the rest.
// It sends nothing itself: /f.js asks it (`funnel.h`) for the page's clicks each time it sends
// the page's engagement, so they leave with it, by beacon, when the page is hidden or left.
// What a click records: the element's selector (ids, data attributes and tag names only, never
// text, values or other attribute contents), the offset inside the element's box, rage bursts.

type Hooked = ((...args: unknown[]) => void) & { h?: () => object };
interface Click {
  selector: string;
  x: number;
  y: number;
  rage?: true;
}

const d = document;
const l = location;
const w = window as unknown as { funnel?: Hooked };
const on = addEventListener;
const tag = d.querySelector<HTMLScriptElement>('script[data-heatmaps]');
// A name or value taken into a selector: an identifier, nothing that could be free text.
const IDENT = /^[A-Za-z_][\w-]{0,63}$/;
// The markup's own data attributes that carry values, not names of things (props, revenue).
const VALUE_DATA = /^data-funnel-(prop-|revenue|currency)/;
/** At most this many clicks per chunk (the collector refuses a list over 200). */
const MAX_CLICKS = 100;
/** Clicks on one element at most this far apart make a burst; the third of a burst is rage. */
const RAGE_GAP_MS = 700;

const unique = (selector: string) => {
  try {
    return d.querySelectorAll(selector).length == 1;
  } catch {}
};

// Form fields: not even their ids or data attributes are read (CONTRACT.md, "Heatmaps"): a field
// is named by its position, under the nearest named ancestor.
const FIELD = /^(input|select|textarea|option)$/;

/** A stable selector: the nearest id, else a data attribute, else tag names and positions, at most 5 levels. */
function selectorOf(el: Element): string {
  const parts: string[] = [];
  for (let e: Element | null = el; e && e != d.documentElement && parts.length < 5; e = e.parentElement) {
    const field = FIELD.test(e.localName);
    if (!field && e.id && IDENT.test(e.id)) {
      parts.unshift('#' + e.id);
      if (unique(parts.join('>'))) break;
      parts[0] = e.localName + parts[0];
      continue;
    }
    let part = e.localName;
    const data = !field && [...e.attributes].find((a) => /^data-[\w-]+$/.test(a.name) && !VALUE_DATA.test(a.name) && IDENT.test(a.value));
    if (data) part += `[${data.name}="${data.value}"]`;
    else if (e.parentElement) {
      const same = [...e.parentElement.children].filter((c) => c.localName == e!.localName);
      if (same.length > 1) part += `:nth-of-type(${same.indexOf(e) + 1})`;
    }
    parts.unshift(part);
    if (unique(parts.join('>'))) break;
  }
  return parts.join('>');
}

const overlay = /[#&]fb-heatmap=/.test(l.hash);
if (overlay && tag) {
  // An overlay link from the dashboard: draw, and record nothing of the person looking.
  import(new URL('f-overlay.js', tag.src) as unknown as string);
} else if (w.funnel) {
  const send = w.funnel;
  let clicks: Click[] = [];
  let depth: number;
  let seen: number | undefined;
  let path: string;
  let burst = { selector: '', at: 0, n: 0 };

  // The scroll reached now, measured as /f.js measures the `scroll` it sends beside these clicks.
  const reached = () => Math.round(Math.min(1, (scrollY + innerHeight) / d.documentElement.scrollHeight) * 100);
  // A new page (of a single-page app, or restored from the back/forward cache): start over.
  // Found out when /f.js sends the last page's engagement, or else at the next scroll or click
  // (a page left before any engaged time sends none), so the history hook stays /f.js's alone.
  const start = () => {
    path = l.pathname;
    clicks = [];
    seen = undefined;
    depth = reached();
  };
  const current = () => l.pathname == path || start();
  start();
  on('scroll', () => {
    current();
    depth = Math.max(depth, reached());
  });
  on('pageshow', (e) => e.persisted && start());

  // Capture phase on window: before any handler of the page, which cannot hide the click.
  on('click', (e) => {
    const target = e.target as Element;
    current();
    if (!target?.closest || clicks.length >= MAX_CLICKS) return;
    const el = target.closest('a,button,input,select,textarea,label,summary,[role=button]') || target;
    const box = el.getBoundingClientRect();
    const at = (offset: number, size: number) => (size > 0 ? Math.round(Math.min(1, Math.max(0, offset / size)) * 1e3) / 1e3 : 0.5);
    const selector = selectorOf(el);
    const now = e.timeStamp;
    burst = burst.selector == selector && now - burst.at < RAGE_GAP_MS ? { selector, at: now, n: burst.n + 1 } : { selector, at: now, n: 1 };
    const click: Click = { selector, x: at(e.clientX - box.left, box.width), y: at(e.clientY - box.top, box.height) };
    if (burst.n >= 3) click.rage = true;
    clicks.push(click);
  }, true);

  // Called by /f.js as it sends the page's engagement (also the last one of a page it moves on
  // from: the location is the new page's by then): the clicks since the last chunk, and the depth
  // already reported (each 10% of a pageview counts once).
  send.h = () => {
    const heatmap = { viewport: innerWidth, clicks, seen };
    clicks = [];
    seen = depth;
    current();
    return { heatmap };
  };
}

export {};
