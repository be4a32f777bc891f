// /f-overlay.js: a page's heatmap drawn over the live page, opened from the dashboard by a link
// ending in #fb-heatmap=TOKEN (a short-lived, signed, read-only token for one heatmap query).
// Loaded by the capture file from the collector's origin; reads the heatmap from there too, so a
// site's Content-Security-Policy needs only what /f.js needs: the collector in script-src and
// connect-src. It adds no <style> and no style attribute: every style is set through the CSSOM.

interface OverlayHeatmap {
  pageviews: number;
  clicks: { selector: string; x: number; y: number; count: number; rage: number }[];
  scroll: { depth: number; visitors: number }[];
  path: string;
  device: string | null;
}

const d = document;
const tag = d.querySelector<HTMLScriptElement>('script[data-heatmaps]')!;
const token = decodeURIComponent(/[#&]fb-heatmap=([^&]+)/.exec(location.hash)![1]);
const Z = '2147483640';

const box = (parent: HTMLElement, style: Partial<CSSStyleDeclaration>, text?: string): HTMLElement => {
  const el = d.createElement('div');
  Object.assign(el.style, { position: 'absolute', boxSizing: 'border-box', pointerEvents: 'none', font: '12px/1.3 system-ui, sans-serif' }, style);
  if (text !== undefined) el.textContent = text;
  parent.append(el);
  return el;
};

function draw(heatmap: OverlayHeatmap): void {
  d.getElementById('fb-overlay')?.remove();
  const root = d.createElement('div');
  root.id = 'fb-overlay';
  Object.assign(root.style, { position: 'absolute', left: '0', top: '0', width: '100%', height: `${d.documentElement.scrollHeight}px`, zIndex: Z, pointerEvents: 'none' });
  d.body.append(root);

  // The scroll fold: each tenth of the page shaded by how many pageviews never reached it.
  const height = d.documentElement.scrollHeight;
  const views = Math.max(1, heatmap.pageviews);
  for (const { depth, visitors } of heatmap.scroll) {
    const missed = 1 - visitors / views;
    box(root, { left: '0', right: '0', top: `${((depth - 10) / 100) * height}px`, height: `${height / 10}px`, background: `rgba(20, 24, 40, ${(missed * 0.55).toFixed(3)})` });
    box(root, { right: '6px', top: `${(depth / 100) * height - 20}px`, padding: '1px 6px', borderRadius: '8px', background: 'rgba(20, 24, 40, 0.85)', color: '#fff' },
      `${depth}%: ${visitors} of ${heatmap.pageviews} reached`);
  }

  // Clicks: each element outlined, a dot at its mean offset sized by its count; rage in orange.
  const most = Math.max(1, ...heatmap.clicks.map((c) => c.count));
  for (const click of heatmap.clicks) {
    let el: Element | null = null;
    try {
      el = d.querySelector(click.selector);
    } catch {}
    if (!el) continue;
    const r = el.getBoundingClientRect();
    const left = r.left + scrollX;
    const top = r.top + scrollY;
    const hot = click.rage > 0 ? '255, 140, 0' : '230, 40, 70';
    box(root, { left: `${left}px`, top: `${top}px`, width: `${r.width}px`, height: `${r.height}px`, outline: `2px solid rgba(${hot}, 0.9)`, background: `rgba(${hot}, 0.12)` });
    const size = 14 + 26 * Math.sqrt(click.count / most);
    box(root, {
      left: `${left + click.x * r.width - size / 2}px`, top: `${top + click.y * r.height - size / 2}px`, width: `${size}px`, height: `${size}px`,
      borderRadius: '50%', background: `radial-gradient(rgba(${hot}, 0.95), rgba(${hot}, 0.25))`,
    });
    box(root, { left: `${left}px`, top: `${Math.max(0, top - 18)}px`, padding: '0 5px', borderRadius: '4px', background: `rgb(${hot})`, color: '#fff' },
      `${click.count} click${click.count == 1 ? '' : 's'}${click.rage > 0 ? `, ${click.rage} rage` : ''}`);
  }

  // What is shown, fixed in a corner.
  const panel = box(d.body, {
    position: 'fixed', left: '12px', bottom: '12px', padding: '8px 12px', borderRadius: '8px', zIndex: Z,
    background: 'rgba(20, 24, 40, 0.92)', color: '#fff', pointerEvents: 'auto', maxWidth: '360px',
  }, `Funnelbeam heatmap of ${heatmap.path}${heatmap.device ? ` (${heatmap.device})` : ''}: ${heatmap.pageviews} pageviews, ${heatmap.clicks.reduce((n, c) => n + c.count, 0)} clicks`);
  panel.id = 'fb-overlay-panel';
  const ready = d.createElement('span');
  ready.id = 'fb-overlay-ready';
  panel.append(ready);
}

function fail(message: string): void {
  box(d.body, { position: 'fixed', left: '12px', bottom: '12px', padding: '8px 12px', background: '#a00', color: '#fff', zIndex: Z }, `Funnelbeam heatmap: ${message}`);
}

fetch(new URL(`/api/heatmap-overlay?token=${encodeURIComponent(token)}`, tag.src))
  .then(async (response) => {
    const body = (await response.json()) as OverlayHeatmap & { error?: string };
    if (!response.ok) return fail(body.error ?? `error ${response.status}`);
    const redraw = () => draw(body);
    redraw();
    addEventListener('resize', redraw);
  })
  .catch(() => fail('the collector could not be reached'));

export {};
