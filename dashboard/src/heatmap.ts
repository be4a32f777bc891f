// The heatmap of the picked step's page, split by outcome (GET .../heatmap with funnel, step and
// status): the elements the goers clicked most beside those the leavers did, and how far each
// group scrolled, as bars. "Open on the live page" asks for a short-lived overlay link
// (POST .../heatmap/overlay) and opens the site's page with the overlay drawn on it.
import { request, type DateRange, type StepDefinition } from './api.js';
import { fill, h, select, svg } from './dom.js';
import { count, displayPath, pct } from './format.js';
import type { PeopleWhere } from './people.js';
import { table } from './table.js';

export interface Heatmap {
  pageviews: number;
  clicks: { selector: string; x: number; y: number; count: number; rage: number }[];
  scroll: { depth: number; visitors: number }[];
}

type Side = 'went_on' | 'dropped';
/** Elements listed per side, by clicks. */
export const TOP_ELEMENTS = 8;
const DEVICES: [string, string][] = [['', 'All devices'], ['desktop', 'Desktop'], ['tablet', 'Tablet'], ['mobile', 'Phone']];

const rangeQuery = (range: DateRange) => `from=${encodeURIComponent(range.from)}&to=${encodeURIComponent(range.to)}`;
const base = (site: string) => `/api/sites/${encodeURIComponent(site)}`;

function heatmapOf(where: PeopleWhere, pattern: string, step: number, status: Side, device: string): Promise<Heatmap> {
  const query = `${rangeQuery(where.range)}&path=${encodeURIComponent(pattern)}&funnel=${encodeURIComponent(where.funnel)}&step=${step}&status=${status}${device ? `&device=${device}` : ''}`;
  return request<Heatmap>(`${base(where.site)}/heatmap?${query}`);
}

/** One side's top elements: selector, clicks, clicks per pageview, mean offset, rage. */
function elementsTable(side: Side, heatmap: Heatmap): HTMLElement {
  if (!heatmap.clicks.length) return h('p', { class: 'muted' }, heatmap.pageviews ? 'No clicks.' : 'No heatmapped pageviews.');
  return table(`heatmap-${side}`, 1, ['Element', 'Clicks', 'Per pageview', 'Where in it (x, y)'],
    heatmap.clicks.slice(0, TOP_ELEMENTS).map((c) => [
      h('code', {}, c.selector),
      c.rage ? h('span', {}, count(c.count), h('small', { class: 'rage' }, ` (${count(c.rage)} rage)`)) : count(c.count),
      (c.count / Math.max(1, heatmap.pageviews)).toFixed(2),
      `${pct(c.x)}, ${pct(c.y)}`,
    ]));
}

/** Scroll reach: for each 10% of the page, the share of each side's pageviews that got there. */
function scrollBars(goers: Heatmap, leavers: Heatmap): SVGElement {
  const rowHeight = 22;
  const labelWidth = 48;
  const width = 420;
  const barWidth = (width - labelWidth - 8) / 2;
  const share = (heatmap: Heatmap, depth: number) => (heatmap.pageviews ? (heatmap.scroll.find((s) => s.depth === depth)?.visitors ?? 0) / heatmap.pageviews : 0);
  const rows = goers.scroll.map((s, i) => {
    const y = 18 + i * rowHeight;
    // The share is written after its bar, which leaves it room: the longest bar is the column less 44.
    const bar = (x: number, value: number, side: Side) => {
      const length = Math.max(0, value * (barWidth - 48));
      return [
        svg('rect', { x, y, width: length, height: rowHeight - 6, class: `reach ${side}` }),
        svg('text', { x: x + length + 4, y: y + rowHeight - 10, class: 'reach-label' }, pct(value)),
      ];
    };
    return [
      svg('text', { x: 0, y: y + rowHeight - 10, class: 'axis' }, `${s.depth}%`),
      ...bar(labelWidth, share(goers, s.depth), 'went_on'),
      ...bar(labelWidth + barWidth + 8, share(leavers, s.depth), 'dropped'),
    ];
  });
  return svg('svg', { viewBox: `0 0 ${width} ${18 + goers.scroll.length * rowHeight}`, class: 'scroll-reach', role: 'img', 'aria-label': 'Scroll reach of those who went on and those who dropped' },
    svg('text', { x: labelWidth, y: 12, class: 'axis' }, 'Went on'),
    svg('text', { x: labelWidth + barWidth + 8, y: 12, class: 'axis' }, 'Dropped'),
    ...rows.flat());
}

/**
 * The panel, kept across redraws of the report: `show` fetches the two sides for the picked step
 * (0-based) when it is a page step with a next step, only when something changed.
 */
export function heatmapPanel(): { element: HTMLElement; show(where: PeopleWhere, picked: number | null, steps: readonly StepDefinition[] | undefined): void } {
  const body = h('div', {});
  const title = h('h2', { id: 'heatmap-title' });
  const device = select(DEVICES, '', { 'aria-label': 'Device' });
  const element = h('section', { class: 'card heatmap', id: 'heatmap', 'aria-labelledby': 'heatmap-title', hidden: true }, title, body);
  let shown: string | null = null;
  let current: { where: PeopleWhere; k: number; pattern: string } | null = null;

  async function openOverlay(button: HTMLButtonElement): Promise<void> {
    if (!current) return;
    const { where, k, pattern } = current;
    button.disabled = true;
    try {
      const link = await request<{ url: string | null }>(`${base(where.site)}/heatmap/overlay`, {
        body: { path: pattern, from: where.range.from, to: where.range.to, funnel: where.funnel, step: k + 1, status: 'dropped', ...(device.value && { device: device.value }) },
      });
      if (link.url) window.open(link.url, '_blank', 'noopener');
    } finally {
      button.disabled = false;
    }
  }

  async function load(): Promise<void> {
    if (!current) return;
    const { where, k, pattern } = current;
    const key = JSON.stringify([where.site, where.funnel, where.range.from, where.range.to, k, pattern, device.value]);
    if (key === shown) return;
    shown = key;
    element.setAttribute('aria-busy', 'true');
    try {
      const [goers, leavers] = await Promise.all([
        heatmapOf(where, pattern, k + 1, 'went_on', device.value), heatmapOf(where, pattern, k + 1, 'dropped', device.value),
      ]);
      if (shown !== key) return;
      const overlay = h('button', { type: 'button', class: 'secondary', onclick: (e: Event) => void openOverlay(e.currentTarget as HTMLButtonElement) }, 'Open on the live page');
      fill(body,
        h('div', { class: 'actions' }, device, overlay),
        h('div', { class: 'sides' },
          h('div', { 'data-side': 'went_on' }, h('h3', {}, 'Went on: ', count(goers.pageviews), ' pageviews'), elementsTable('went_on', goers)),
          h('div', { 'data-side': 'dropped' }, h('h3', {}, 'Dropped: ', count(leavers.pageviews), ' pageviews'), elementsTable('dropped', leavers))),
        h('h3', {}, 'How far they scrolled'),
        scrollBars(goers, leavers));
    } catch (error) {
      if (shown === key) fill(body, h('p', { class: 'error' }, error instanceof Error ? error.message : String(error)));
      shown = null;
    } finally {
      element.removeAttribute('aria-busy');
    }
  }
  device.addEventListener('change', () => void load());

  function show(where: PeopleWhere, picked: number | null, steps: readonly StepDefinition[] | undefined): void {
    const step = picked === null ? undefined : steps?.[picked];
    // A page step with a step after it: there are goers and leavers to set side by side.
    if (picked === null || !step || step.event !== 'pageview' || !step.path || picked >= where.steps.length - 1) {
      element.hidden = true;
      current = null;
      return;
    }
    element.hidden = false;
    current = { where, k: picked, pattern: step.path };
    fill(title, `Step ${picked + 1} on the page: `, h('code', {}, displayPath(step.path)));
    void load();
  }

  return { element, show };
}
