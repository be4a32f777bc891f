// Conversion over days: visitors entering as bars, the conversion rate as a line; the same
// numbers as a table for screen readers and for those who prefer to read.
import type { TrendPoint } from './api.js';
import { h, svg } from './dom.js';
import { count, pct } from './format.js';

const H = 200;
const PAD = { top: 16, right: 44, bottom: 26, left: 40 };

/** `width`: the room the chart has, in CSS px, so its text stays at its size on any screen. */
export function trendChart(trend: TrendPoint[], width: number): HTMLElement {
  const W = Math.round(Math.min(1100, Math.max(300, width - 40)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const maxEntered = Math.max(1, ...trend.map((p) => p.entered));
  const maxRate = niceRate(Math.max(0, ...trend.map((p) => p.conversion_rate)));
  const slot = plotW / Math.max(1, trend.length);
  const x = (i: number) => PAD.left + slot * i + slot / 2;
  const yCount = (n: number) => PAD.top + plotH - (n / maxEntered) * plotH;
  const yRate = (r: number) => PAD.top + plotH - (r / maxRate) * plotH;

  const chart = svg(
    'svg',
    { class: 'trend', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'trend-title trend-desc' },
    svg('title', { id: 'trend-title' }, 'Conversion trend'),
    svg('desc', { id: 'trend-desc' }, `Visitors entering the funnel per day (bars) and the conversion rate (line), ${trend[0]?.date ?? ''} to ${trend[trend.length - 1]?.date ?? ''}.`),
    svg('line', { class: 'axis', x1: PAD.left, x2: W - PAD.right, y1: PAD.top + plotH, y2: PAD.top + plotH }),
    svg('text', { class: 'tick', x: PAD.left - 6, y: PAD.top + 4, 'text-anchor': 'end' }, count(maxEntered)),
    svg('text', { class: 'tick', x: PAD.left - 6, y: PAD.top + plotH, 'text-anchor': 'end' }, '0'),
    svg('text', { class: 'tick rate', x: W - PAD.right + 6, y: PAD.top + 4 }, pct(maxRate)),
    svg('text', { class: 'tick rate', x: W - PAD.right + 6, y: PAD.top + plotH }, pct(0)),
    svg('text', { class: 'tick', x: PAD.left, y: H - 6 }, trend[0]?.date ?? ''),
    svg('text', { class: 'tick', x: W - PAD.right, y: H - 6, 'text-anchor': 'end' }, trend[trend.length - 1]?.date ?? ''),
    ...trend.map((p, i) =>
      svg(
        'rect',
        { class: 'day', x: x(i) - Math.max(1, slot * 0.35), width: Math.max(2, slot * 0.7), y: yCount(p.entered), height: PAD.top + plotH - yCount(p.entered) },
        svg('title', {}, `${p.date}: ${count(p.entered)} entered, ${count(p.converted)} converted (${pct(p.conversion_rate)})`),
      ),
    ),
    svg('polyline', { class: 'rate-line', points: trend.map((p, i) => `${x(i).toFixed(1)},${yRate(p.conversion_rate).toFixed(1)}`).join(' ') }),
    ...(trend.length <= 31 ? trend.map((p, i) => svg('circle', { class: 'rate-dot', cx: x(i), cy: yRate(p.conversion_rate), r: 3 })) : []),
  );

  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'trend-heading' },
    h('h2', { id: 'trend-heading' }, 'Conversion trend'),
    h('p', { class: 'legend' }, h('span', { class: 'key' }, h('span', { class: 'swatch day', 'aria-hidden': 'true' }), 'entered per day'), h('span', { class: 'key' }, h('span', { class: 'swatch rate', 'aria-hidden': 'true' }), 'conversion rate')),
    chart,
    h(
      'details',
      {},
      h('summary', {}, 'Trend as a table'),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          {},
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Day (UTC)'), h('th', { scope: 'col' }, 'Entered'), h('th', { scope: 'col' }, 'Converted'), h('th', { scope: 'col' }, 'Conversion'))),
          h('tbody', {}, ...trend.map((p) => h('tr', {}, h('th', { scope: 'row' }, p.date), h('td', {}, count(p.entered)), h('td', {}, count(p.converted)), h('td', {}, pct(p.conversion_rate))))),
        ),
      ),
    ),
  );
}

/** A round upper bound for the rate axis: 10%, 20%, 50% or 100%. */
function niceRate(max: number): number {
  return [0.1, 0.2, 0.5, 1].find((bound) => max <= bound) ?? 1;
}
