// The sales funnel as a picture: lead → MQL → SAL → SQL → won, one bar per stage split into
// those who went on, those waiting in it now (the open pipeline) and those lost; between stages
// the conversion, the time spent in the stage and how long the waiting ones have waited.
import type { SalesFunnelReport, SalesStageReport } from './api.js';
import { h, type Child } from './dom.js';
import { count, duration, label, money, pct, pctOrDash, STAGE_NAMES } from './format.js';
import { SALES_BREAKDOWNS } from './state.js';
import { table } from './table.js';

const revenueText = (revenue: Record<string, number>): string => {
  const amounts = Object.entries(revenue);
  return amounts.length ? amounts.map(([currency, amount]) => money(amount, currency)).join(' · ') : '–';
};

export function salesKpis(report: SalesFunnelReport): HTMLElement {
  const item = (key: string, title: string, value: Child, note: string) =>
    h('div', { class: 'kpi', 'data-kpi': key }, h('dt', {}, title), h('dd', {}, value), h('dd', { class: 'note' }, note));
  return h(
    'section',
    { class: 'kpis', 'aria-label': 'Sales summary' },
    h(
      'dl',
      {},
      item('leads', 'Leads', count(report.leads), 'named in this range'),
      item('won', 'Won', count(report.won), `${count(report.lost)} lost`),
      item('lead-conversion', 'Lead to won', pctOrDash(report.conversion_rate), 'won ÷ leads'),
      item('close-rate', 'Close rate', pctOrDash(report.close_rate), 'won ÷ SQL'),
      item('revenue', 'Revenue', revenueText(report.revenue), 'of won deals'),
    ),
  );
}

export function salesChart(report: SalesFunnelReport): HTMLElement {
  const first = report.stages[0]?.reached ?? 0;
  const last = report.stages.length - 1;
  const items: HTMLElement[] = [];
  report.stages.forEach((stage, k) => {
    items.push(stageRow(stage, k === last, first));
    if (k < last) items.push(betweenRow(stage, report.stages[k + 1]));
  });
  return h(
    'section',
    { class: 'card chart', 'aria-labelledby': 'sales-title' },
    h('h2', { id: 'sales-title' }, 'Sales funnel'),
    h(
      'p',
      { class: 'legend' },
      swatch('on', 'went on'),
      swatch('flight', 'waiting in the stage now'),
      swatch('gone', 'lost'),
      swatch('done', 'won'),
    ),
    h('ol', { class: 'funnel sales' }, ...items),
  );
}

function swatch(kind: string, text: string): HTMLElement {
  return h('span', { class: 'key' }, h('span', { class: `swatch ${kind}`, 'aria-hidden': 'true' }), text);
}

function stageRow(stage: SalesStageReport, isLast: boolean, first: number): HTMLElement {
  const bar = h('div', { class: 'bar' });
  bar.style.width = `${first ? (stage.reached / first) * 100 : 0}%`;
  const waiting = stage.waiting?.count ?? 0;
  if (isLast) bar.append(segment('done', stage.reached, stage.reached));
  else bar.append(segment('on', stage.reached - waiting - stage.lost, stage.reached), segment('flight', waiting, stage.reached), segment('gone', stage.lost, stage.reached));
  return h(
    'li',
    { class: 'step', 'data-stage': stage.stage },
    h('span', { class: 'stage-name' }, STAGE_NAMES[stage.stage]),
    h('div', { class: 'track', 'aria-hidden': 'true' }, bar),
    h(
      'p',
      { class: 'nums' },
      h('strong', { 'data-metric': 'reached' }, count(stage.reached)),
      stage.reached === 1 ? ' lead' : ' leads',
      h('span', { class: 'of-first' }, pct(first ? stage.reached / first : 0), ' of leads'),
    ),
  );
}

function segment(kind: string, value: number, of: number): HTMLElement {
  const el = h('span', { class: `seg ${kind}` });
  el.style.width = `${of ? (value / of) * 100 : 0}%`;
  return el;
}

function betweenRow(stage: SalesStageReport, next: SalesStageReport): HTMLElement {
  const waiting = stage.waiting;
  const parts: Child[] = [
    h('span', { class: 'conversion' }, '↓ ', h('strong', { 'data-metric': 'conversion' }, pctOrDash(stage.conversion_rate)), ` on to ${STAGE_NAMES[next.stage]}`),
    h('span', {}, 'time in stage: ', stage.time_in_stage_ms ? `${duration(stage.time_in_stage_ms.median)} median, ${duration(stage.time_in_stage_ms.p90)} p90` : '–'),
    waiting && waiting.count
      ? h(
          'span',
          { class: 'flight' },
          h('span', { 'data-metric': 'waiting' }, count(waiting.count)),
          ` waiting: ${duration(waiting.median_ms)} median, ${duration(waiting.p90_ms)} p90, ${duration(waiting.max_ms)} longest`,
        )
      : h('span', {}, h('span', { 'data-metric': 'waiting' }, '0'), ' waiting'),
    h('span', {}, h('span', { 'data-metric': 'lost' }, count(stage.lost)), ' lost'),
  ];
  return h('li', { class: 'drop' }, h('p', {}, ...parts));
}

export function salesBreakdownTable(report: SalesFunnelReport, by: string): HTMLElement {
  const name = SALES_BREAKDOWNS.find(([value]) => value === by)?.[1] ?? by;
  const rows = report.breakdown ?? [];
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'sales-breakdown-title' },
    h('h2', { id: 'sales-breakdown-title' }, `By ${name.toLowerCase()}`),
    rows.length
      ? table(
          'sales-breakdown',
          1,
          [name, 'Leads', ...report.stages.slice(1).map((s) => STAGE_NAMES[s.stage]), 'Close rate', 'Revenue'],
          rows.map((row) => [label(row.key), ...row.stages.map((s) => count(s.reached)), pctOrDash(row.close_rate), revenueText(row.revenue)]),
        )
      : h('p', { class: 'muted' }, 'No leads in this range.'),
  );
}
