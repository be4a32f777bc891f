// The funnel as a picture: one bar per step, split into those who went on, the open
// opportunities (in flight) and those gone; the drop-off between steps in count and %. And how
// long conversions took, as a histogram.
import type { FunnelReport, StepReport } from './api.js';
import { h, svg, type Child } from './dom.js';
import { count, duration, pct, timeSpan } from './format.js';
import { table } from './table.js';

/** `onSelect`: null where a step is not to be drilled into (a shared link). */
export function funnelChart(report: FunnelReport, selected: number | null, onSelect: ((step: number) => void) | null): HTMLElement {
  const first = report.steps[0]?.entered ?? 0;
  const last = report.steps.length - 1;
  const items: HTMLElement[] = [];
  report.steps.forEach((step, k) => {
    items.push(stepRow(step, k, k === last, first, selected === k, onSelect));
    if (k < last) items.push(dropRow(step, report.steps[k + 1]));
  });
  return h(
    'section',
    { class: 'card chart', 'aria-labelledby': 'chart-title' },
    h('h2', { id: 'chart-title' }, 'Funnel'),
    h(
      'p',
      { class: 'legend' },
      swatch('on', 'went on'),
      swatch('flight', 'in flight (may still go on)'),
      swatch('gone', 'gone'),
      swatch('done', 'converted'),
    ),
    onSelect && h('p', { class: 'hint' }, 'Select a step to see where its leavers went and where the funnel’s visitors came from.'),
    h('ol', { class: 'funnel' }, ...items),
  );
}

function swatch(kind: string, text: string): HTMLElement {
  return h('span', { class: 'key' }, h('span', { class: `swatch ${kind}`, 'aria-hidden': 'true' }), text);
}

function stepRow(step: StepReport, k: number, isLast: boolean, first: number, selected: boolean, onSelect: ((step: number) => void) | null): HTMLElement {
  const bar = h('div', { class: 'bar' });
  bar.style.width = `${first ? (step.entered / first) * 100 : 0}%`;
  const wentOn = step.entered - step.exited;
  const gone = step.exited - step.in_flight;
  if (isLast) bar.append(segment('done', step.entered, step.entered));
  else bar.append(segment('on', wentOn, step.entered), segment('flight', step.in_flight, step.entered), segment('gone', gone, step.entered));

  return h(
    'li',
    { class: `step${selected ? ' selected' : ''}`, 'data-step': k },
    onSelect
      ? h(
          'button',
          {
            type: 'button',
            class: 'step-name',
            'aria-expanded': selected ? 'true' : 'false',
            'aria-controls': 'step-detail',
            onclick: () => onSelect(k),
          },
          `${k + 1}. `,
          step.name,
        )
      : h('span', { class: 'step-label' }, `${k + 1}. `, step.name),
    h('div', { class: 'track', 'aria-hidden': 'true' }, bar),
    h(
      'p',
      { class: 'nums' },
      h('strong', { 'data-metric': 'entered' }, count(step.entered)),
      step.entered === 1 ? ' visitor' : ' visitors',
      h('span', { class: 'of-first' }, h('span', { 'data-metric': 'of-first' }, pct(first ? step.entered / first : 0)), ' of step 1'),
    ),
  );
}

function segment(kind: string, value: number, of: number): HTMLElement {
  const el = h('span', { class: `seg ${kind}` });
  el.style.width = `${of ? (value / of) * 100 : 0}%`;
  return el;
}

function dropRow(step: StepReport, next: StepReport): HTMLElement {
  const gone = step.exited - step.in_flight;
  const parts: Child[] = [
    h('span', { class: 'drop-count' }, '↓ ', h('strong', { 'data-metric': 'exited' }, count(step.exited)), ' dropped (', h('span', { 'data-metric': 'exit-rate' }, pct(step.exit_rate)), ')'),
    h('span', {}, h('span', { 'data-metric': 'gone' }, count(gone)), ' gone'),
    h('span', { class: 'flight' }, h('span', { 'data-metric': 'in-flight' }, count(step.in_flight)), ' in flight'),
  ];
  if (step.time_to_next_ms) {
    parts.push(h('span', {}, `to “${next.name}”: `, duration(step.time_to_next_ms.median), ' median, ', duration(step.time_to_next_ms.p90), ' p90'));
  }
  if (step.engaged_ms_median != null) parts.push(h('span', {}, 'engaged ', duration(step.engaged_ms_median)));
  return h('li', { class: 'drop' }, h('p', {}, ...parts));
}

/**
 * Time from step 1 to the last step: one row per span (the API's buckets, empty ones too) with
 * its count and share of conversions as text, and the share as a bar. The bar is an SVG rect,
 * its length an attribute: no style to set under the page's CSP.
 */
export function timeToConvertChart(report: FunnelReport): HTMLElement {
  const ttc = report.time_to_convert;
  const card = (...children: Child[]) =>
    h('section', { class: 'card time-to-convert', 'aria-labelledby': 'ttc-title' }, h('h2', { id: 'ttc-title' }, 'Time to convert'), ...children);
  if (!ttc) return card(h('p', { class: 'muted', 'data-ttc': 'none' }, 'No conversions in this range yet.'));
  const total = ttc.histogram.reduce((sum, bucket) => sum + bucket.count, 0);
  return card(
    h('p', { class: 'ttc-summary' }, 'Median ', h('strong', { 'data-metric': 'ttc-median' }, duration(ttc.median)), ' · p90 ', h('strong', { 'data-metric': 'ttc-p90' }, duration(ttc.p90))),
    h('p', { class: 'hint' }, `From “${report.steps[0]?.name ?? ''}” to “${report.steps[report.steps.length - 1]?.name ?? ''}”, for the visitors who converted.`),
    table(
      'time-to-convert',
      [0, 2], // the shares as text columns: their bars line up on the left
      ['Time to convert', 'Conversions', 'Share of conversions'],
      ttc.histogram.map((bucket) => {
        const share = total ? bucket.count / total : 0;
        return [timeSpan(bucket.from_ms, bucket.to_ms), count(bucket.count), h('span', { class: 'rate' }, shareBar(share), pct(share))];
      }),
    ),
  );
}

function shareBar(share: number): SVGElement {
  return svg(
    'svg',
    { class: 'ttc-bar', viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' },
    svg('rect', { width: (share * 100).toFixed(1), height: 10 }),
  );
}
