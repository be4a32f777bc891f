// The report view: pickers, then the funnel as a picture, the step in focus, how long conversions
// took, the numbers as a table, the breakdown and the trend. A funnel still being computed over its
// history shows its partial numbers and the progress, fetched again until whole; a restarting
// collector, its warm-up.
// A shared link shows the same, read-only: its one funnel, no editing, export or drill-down.
// The summary says how each figure changed against the range just before; a breakdown by
// variant adds the A/B test: each variant against the control, and a verdict in words.
import { ApiError, MIN_ARM_ENTRIES, serverNow, type BreakdownDimension, type ComparedReport, type DateRange, type FunnelReport, type SourceReport, type StepReport, type VariantRow } from './api.js';
import { funnelChart, timeToConvertChart } from './chart.js';
import { download, reportCsv } from './csv.js';
import { field, fill, h, select, type Child } from './dom.js';
import { ago, count, displayPath, duration, label, money, pct, points, progressPct, pValue, signedPct, times } from './format.js';
import { peopleCount, peoplePanel, type OpenPeople } from './people.js';
import { rangeFields } from './range.js';
import { BREAKDOWNS, rangeOf, type State } from './state.js';
import { table } from './table.js';
import { trendChart } from './trend.js';
import { whyPanel } from './why.js';
import { heatmapPanel } from './heatmap.js';

export interface ReportContext {
  state: State;
  changed(): void;
  status(message: string): void;
  fail(error: unknown): void;
  /** The report of the picked funnel, range and breakdown: the site's, or a shared link's. */
  fetch(): Promise<ComparedReport>;
  /** Opens the funnel editor; null when the principal may not edit funnels. */
  openEditor: ((id: string | null) => void) | null;
  exportCsv: boolean;
  /** A shared link's report: no funnel picker and no step to drill into, its funnel is all it shows. */
  shared?: boolean;
}

/** A partial report (its funnel is being back-filled) is fetched again this often. */
const POLL_MS = 2_000;
/** A report that comes this far behind the server's clock says how old it is (on ClickHouse it lags a second or two)… */
const LAG_MS = 5_000;
/** …and any report, once it has been on screen this long: the page does not refresh it by itself. */
const STALE_MS = 60_000;

let latest = 0;
/** Draws the shown report again: the trend is drawn for the width it has. */
let redraw: (() => void) | null = null;
/** Says again how old the shown report is (every 5 s, while it is on screen). */
let showAge: (() => void) | null = null;
setInterval(() => showAge?.(), 5_000);
let lastWidth = window.innerWidth;
let resizeTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (Math.abs(window.innerWidth - lastWidth) < 40) return;
    lastWidth = window.innerWidth;
    redraw?.();
  }, 150);
});

export function reportView(ctx: ReportContext): HTMLElement {
  const { state } = ctx;
  if (!state.funnels.length) {
    return h(
      'section',
      { class: 'card empty' },
      h('h2', {}, 'No funnel yet'),
      h('p', {}, 'A funnel is a list of steps, such as landing page → pricing → signup. Define one, and it reports on the events already collected.'),
      ctx.openEditor && h('button', { type: 'button', onclick: () => ctx.openEditor?.(null) }, 'Create a funnel'),
    );
  }
  const results = h('div', { class: 'results', 'aria-busy': 'true' });
  /** The back-fill's progress, or the collector's warm-up; empty otherwise. */
  const notice = h('div', { class: 'notice' });
  const freshness = h('p', { class: 'freshness' });
  let report: ComparedReport | null = null;
  /** The range the shown report covers (the pickers may have moved on while the next one loads). */
  let shownRange: DateRange = rangeOf(state);
  /** Whether the shown report came LAG_MS or more behind the server's clock. */
  let lagged = false;
  let again: ReturnType<typeof setTimeout> | undefined;
  /** Who is behind a count of the steps table, and why entries went on: kept across redraws, not on a shared link. */
  const people = ctx.shared ? null : peoplePanel(ctx);
  const why = ctx.shared ? null : whyPanel();
  const heatmaps = ctx.shared ? null : heatmapPanel();

  const funnel = select(state.funnels.map((f) => [f.id, f.name]), state.funnelId, {
    name: 'funnel',
    onchange: (e) => {
      state.funnelId = (e.target as HTMLSelectElement).value;
      state.step = null;
      load();
    },
  });
  const breakdown = select(BREAKDOWNS, state.breakdown, {
    name: 'breakdown',
    onchange: (e) => {
      state.breakdown = (e.target as HTMLSelectElement).value as BreakdownDimension | '';
      load();
    },
  });
  const exportButton = ctx.exportCsv && h('button', {
    type: 'button',
    class: 'secondary',
    disabled: true,
    onclick: () => {
      if (!report) return;
      const { from: f, to: t } = rangeOf(state);
      download(`${state.funnelId}_${f}_${t}${state.breakdown ? `_by-${state.breakdown}` : ''}.csv`, reportCsv(report));
    },
  }, 'Export CSV');

  /** `background`: a poll of a partial report or a retry during a warm-up, announced only when it ends. */
  async function load(background = false): Promise<void> {
    clearTimeout(again);
    const call = ++latest;
    const range = rangeOf(state);
    if (!background) {
      ctx.changed();
      people?.close();
      results.setAttribute('aria-busy', 'true');
      if (exportButton) exportButton.disabled = true;
      ctx.status('Loading the report…');
    }
    // A pick elsewhere (another funnel or range: a newer call) or another view stops the polling.
    const wanted = () => call === latest && view.isConnected;
    try {
      const next = await ctx.fetch();
      if (!wanted()) return;
      report = next;
      shownRange = range;
      lagged = next.fresh_until !== null && serverNow() - next.fresh_until >= LAG_MS;
      renderResults();
      const partial = next.backfill;
      fill(notice, partial && computing(partial.done, !!exportButton));
      if (exportButton) exportButton.disabled = partial !== null;
      if (partial) again = setTimeout(() => wanted() && load(true), POLL_MS);
      const { from: f, to: t } = rangeOf(state);
      if (!background || !partial) ctx.status(`Report of ${f} to ${t} loaded${partial ? ': partial, still being computed' : ''}.`);
    } catch (error) {
      if (!wanted()) return;
      if (error instanceof ApiError && error.warming) {
        // The collector also answers so while a funnel just back-filled catches up with its open
        // windows: after a partial report, that is the same computation going on, not a restart.
        const { done } = error.warming;
        const restarting = !report?.backfill;
        fill(notice, restarting ? progress('warming', 'The collector is restarting: restoring funnels…', done,
          report ? 'The numbers below are from before the restart.' : 'The report follows as soon as they are back.') : computing(done, !!exportButton));
        again = setTimeout(() => wanted() && load(true), Math.min(60, error.retryAfter) * 1000);
        if (!background) ctx.status(`Waiting for the ${restarting ? 'collector to restart' : 'funnel to be computed'}: the report will load by itself.`);
      } else {
        fill(notice);
        ctx.fail(error);
      }
    } finally {
      if (call === latest) results.setAttribute('aria-busy', 'false');
    }
  }

  showAge = () => {
    const at = report?.fresh_until;
    const age = at == null ? 0 : serverNow() - at;
    fill(freshness, (lagged || age >= STALE_MS) && `Updated ${ago(age)} ago`);
  };

  function renderResults(): void {
    if (!report) return;
    redraw = () => results.isConnected && renderResults();
    showAge?.();
    // Drawn again while the user reads (a poll): the focus stays on the same control.
    const focusables = () => [...results.querySelectorAll<HTMLElement>('button, [tabindex]')];
    const focused = focusables().indexOf(document.activeElement as HTMLElement);
    const current = report;
    const where = { site: state.site, funnel: state.funnelId, range: shownRange, steps: current.steps };
    const openPeople: OpenPeople | null = people && ((which) => people.open(where, which));
    why?.show(where, state.step);
    heatmaps?.show(where, state.step, state.funnels.find((f) => f.id === state.funnelId)?.steps);
    const toggleStep = (k: number) => {
      state.step = state.step === k ? null : k;
      renderResults();
      if (state.step !== null) document.getElementById('step-detail')?.focus();
      else (results.querySelector(`[data-step="${k}"] .step-name`) as HTMLElement | null)?.focus();
    };
    fill(
      results,
      kpis(current, shownRange),
      funnelChart(current, state.step, ctx.shared ? null : toggleStep),
      state.step !== null && current.steps[state.step] ? stepDetail(current, state.step) : null,
      heatmaps?.element,
      why?.element,
      timeToConvertChart(current),
      stepsTable(current, openPeople),
      people?.element,
      current.variants ? variantsTable(current.variants) : null,
      current.breakdown_by ? breakdownTable(current) : null,
      trendChart(current.trend, results.clientWidth),
    );
    if (focused >= 0) focusables()[focused]?.focus({ preventScroll: true });
  }

  const view = h(
    'div',
    { class: 'report' },
    h(
      'form',
      { class: 'controls card', 'aria-label': 'Report options', onsubmit: (e) => e.preventDefault() },
      !ctx.shared && field('Funnel', funnel),
      ...rangeFields(state, load),
      field('Breakdown', breakdown),
      (exportButton || ctx.openEditor) && h(
        'div',
        { class: 'actions' },
        exportButton,
        ctx.openEditor && h('button', { type: 'button', class: 'secondary', onclick: () => ctx.openEditor?.(state.funnelId) }, 'Edit funnel'),
      ),
    ),
    freshness,
    notice,
    results,
  );
  void load();
  return view;
}

const computing = (done: number, exportCsv: boolean): HTMLElement =>
  progress('backfill', 'Computing this funnel over your history…', done,
    `The numbers below are partial and fill in as it goes; the full report replaces them here${exportCsv ? ' (Export CSV waits for it)' : ''}.`);

/** How far a computation is: the percentage and a bar (indeterminate before its first step). */
function progress(kind: string, title: string, done: number, note: string): HTMLElement {
  const bar = h('progress', { max: 100, 'aria-label': title });
  if (done > 0) bar.value = Math.floor(done * 100);
  return h(
    'section',
    { class: 'card progress', 'data-progress': kind },
    h('p', { class: 'progress-title' }, title, done > 0 && ` ${progressPct(done)}`),
    bar,
    h('p', { class: 'hint' }, note),
  );
}

/** How a figure moved against the previous range: its text, and which way (for its colour). */
interface Change {
  trend: 'up' | 'down' | 'flat' | 'new';
  text: string;
}

const trendOf = (delta: number): Change['trend'] => (delta > 0 ? 'up' : delta < 0 ? 'down' : 'flat');
const noBase = (now: number, period: string): Change =>
  now ? { trend: 'new', text: `new: none in the ${period}` } : { trend: 'flat', text: `none in the ${period} either` };

/** A count (or an amount): the relative change, or "new" when there was none before. */
function countChange(now: number, before: number, period: string): Change {
  if (!before) return noBase(now, period);
  return { trend: trendOf(now - before), text: `${signedPct(now / before - 1)} vs ${period}` };
}

/** A rate: the change in percentage points; `base`: whom it divides by, now and before. */
function rateChange(now: number, before: number, base: [now: number, before: number], period: string): Change {
  if (!base[1]) return noBase(base[0], period);
  return { trend: trendOf(now - before), text: `${points(now - before)} vs ${period}` };
}

/** "previous 7 days", "previous day": the range of equal length just before the shown one. */
function previousPeriod(range: DateRange): string {
  const days = Math.round((Date.parse(range.to) - Date.parse(range.from)) / 86_400_000) + 1;
  return days === 1 ? 'previous day' : `previous ${count(days)} days`;
}

function kpis(report: ComparedReport, range: DateRange): HTMLElement {
  const revenue = Object.entries(report.revenue);
  const before = report.previous;
  const period = previousPeriod(range);
  const beforeSteps = before?.steps ?? [];
  const penultimate = (steps: StepReport[]) => steps[steps.length - 2]?.entered ?? 0;
  // Revenue in one currency compares as an amount; several currencies do not add up to one change.
  const currencies = new Set([...revenue.map(([currency]) => currency), ...Object.keys(before?.revenue ?? {})]);
  const [currency] = currencies;
  const item = (key: string, title: string, value: Child, change: Change | null, note?: string) =>
    h('div', { class: 'kpi', 'data-kpi': key }, h('dt', {}, title), h('dd', {}, value),
      change && h('dd', { class: `change ${change.trend}`, 'data-change': change.trend }, change.text),
      note ? h('dd', { class: 'note' }, note) : null);
  const excluded = report.excluded ?? 0;
  return h(
    'section',
    { class: 'kpis', 'aria-label': 'Summary' },
    h(
      'dl',
      {},
      item('entered', 'Entered', count(report.entered), before ? countChange(report.entered, before.entered, period) : null, `visitors at “${report.steps[0]?.name ?? ''}”`),
      item('converted', 'Converted', count(report.converted), before ? countChange(report.converted, before.converted, period) : null, `reached “${report.steps[report.steps.length - 1]?.name ?? ''}”`),
      item('conversion-rate', 'Conversion rate', pct(report.conversion_rate),
        before ? rateChange(report.conversion_rate, before.conversion_rate, [report.entered, before.entered], period) : null, `within ${report.window}`),
      item('close-rate', 'Close rate', pct(report.close_rate),
        before ? rateChange(report.close_rate, before.close_rate, [penultimate(report.steps), penultimate(beforeSteps)], period) : null, 'last step ÷ the one before'),
      item('revenue', 'Revenue', revenue.length ? revenue.map(([c, amount]) => money(amount, c)).join(' · ') : '–',
        before && currencies.size === 1 ? countChange(report.revenue[currency] ?? 0, before.revenue[currency] ?? 0, period) : null, 'of converted visitors'),
    ),
    excluded > 0 && h('p', { class: 'excluded', 'data-excluded': excluded },
      h('strong', {}, `${count(excluded)} ${excluded === 1 ? 'entry' : 'entries'} excluded`),
      ': an excluded event came between their steps, so they count in no step.'),
  );
}

/** The A/B test in words: the best significant variant, else why there is no winner yet. */
function verdict(rows: VariantRow[]): { kind: string; text: string } {
  if (!rows.length) return { kind: 'empty', text: 'No visitors in this range.' };
  const control = rows.find((v) => v.vs_control === null);
  const others = rows.filter((v) => v !== control);
  if (!control || !others.length) return { kind: 'single', text: 'Only one variant in this range: nothing to compare it with yet.' };
  const significant = others.filter((v) => v.vs_control?.significant);
  if (significant.length) {
    const best = significant.reduce((a, b) => (b.conversion_rate > a.conversion_rate ? b : a));
    // No variant significantly better: the control is, than the best of those significantly worse.
    const [winner, loser] = best.conversion_rate > control.conversion_rate ? [best, control] : [control, best];
    const how = loser.conversion_rate
      ? `${times(winner.conversion_rate / loser.conversion_rate)} better than ${label(loser.variant)}`
      : `better than ${label(loser.variant)} (which converts none)`;
    return { kind: 'significant', text: `${label(winner.variant)} converts ${how}, significant.` };
  }
  if (rows.some((v) => v.entered < MIN_ARM_ENTRIES)) {
    return { kind: 'too-few', text: `Not enough visitors yet: each variant needs at least ${MIN_ARM_ENTRIES} entries.` };
  }
  return { kind: 'none', text: 'No significant difference yet.' };
}

function variantsTable(rows: VariantRow[]): HTMLElement {
  const { kind, text } = verdict(rows);
  const control = rows.find((v) => v.vs_control === null);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'variants-title' },
    h('h2', { id: 'variants-title' }, 'A/B test'),
    h('p', { class: `verdict ${kind}`, 'data-verdict': kind }, text),
    rows.length
      ? table(
          'variants',
          1,
          ['Variant', 'Entered', 'Converted', 'Conversion', '95% interval', 'Uplift vs control', 'p-value'],
          rows.map((v) => [
            label(v.variant),
            count(v.entered),
            count(v.converted),
            pct(v.conversion_rate),
            `${pct(v.ci95[0])} – ${pct(v.ci95[1])}`,
            v.vs_control ? (v.vs_control.uplift === null ? '–' : signedPct(v.vs_control.uplift)) : 'control',
            v.vs_control ? pValue(v.vs_control.p_value) : '–',
          ]),
        )
      : null,
    control && h('p', { class: 'hint' }, 'Against the control, ', label(control.variant),
      `: a two-sided test at 5%, never significant with fewer than ${MIN_ARM_ENTRIES} entries a side.`),
  );
}

function stepDetail(report: FunnelReport, k: number): HTMLElement {
  const step = report.steps[k];
  const isLast = k === report.steps.length - 1;
  return h(
    'section',
    { class: 'card detail', id: 'step-detail', tabindex: '-1', 'aria-labelledby': 'detail-title' },
    h('h2', { id: 'detail-title' }, `Step ${k + 1}: `, step.name),
    isLast
      ? h('p', {}, 'The last step: everyone here converted.')
      : h(
          'div',
          {},
          h('h3', {}, 'Where its ', count(step.exited), ' leavers went'),
          step.exits_to.length
            ? table(
                'exits',
                1,
                ['Next page', 'Visitors', 'Share of leavers'],
                step.exits_to.map((exit) => [exit.path === null ? h('em', {}, 'Left the site') : h('code', {}, displayPath(exit.path)), count(exit.count), pct(step.exited ? exit.count / step.exited : 0)]),
              )
            : h('p', { class: 'muted' }, 'Nobody left at this step.'),
        ),
    h('h3', {}, 'Entry sources of the funnel'),
    report.sources.length
      ? table(
          'sources',
          2,
          ['Channel', 'Source', 'Entered', 'Converted', 'Conversion'],
          report.sources.map((s: SourceReport) => [s.channel, label(s.source), count(s.entered), count(s.converted), pct(s.conversion_rate)]),
        )
      : h('p', { class: 'muted' }, 'No visitors in this range.'),
    campaignsTable(report),
  );
}

/** The entry sources split by campaign; a collector older than the field sends none. */
function campaignsTable(report: FunnelReport): HTMLElement | null {
  const campaigns = (report as { campaigns?: SourceReport[] }).campaigns;
  if (!campaigns?.length) return null;
  return h(
    'div',
    {},
    h('h3', {}, 'Campaigns'),
    table(
      'campaigns',
      3,
      ['Channel', 'Source', 'Campaign', 'Entered', 'Converted', 'Conversion'],
      campaigns.map((c) => [c.channel, label(c.source), label(c.campaign), count(c.entered), count(c.converted), pct(c.conversion_rate)]),
    ),
  );
}

function stepsTable(report: FunnelReport, open: OpenPeople | null): HTMLElement {
  const first = report.steps[0]?.entered ?? 0;
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'steps-title' },
    h('h2', { id: 'steps-title' }, 'Steps'),
    table(
      'steps',
      1,
      ['Step', 'Visitors', 'Of step 1', 'Dropped', 'Drop-off', 'Gone', 'In flight', 'To next (median)', 'To next (p90)', 'Engaged (median)'],
      report.steps.map((s: StepReport, k) => [
        `${k + 1}. ${s.name}`,
        // The last step's visitors are those who converted; a gone or in-flight count lists who stopped there.
        peopleCount(open, k + 1, k === report.steps.length - 1 ? 'converted' : 'reached', s.entered),
        pct(first ? s.entered / first : 0),
        count(s.exited),
        pct(s.exit_rate),
        peopleCount(open, k + 1, 'dropped', s.exited - s.in_flight),
        peopleCount(open, k + 1, 'in_flight', s.in_flight),
        duration(s.time_to_next_ms?.median),
        duration(s.time_to_next_ms?.p90),
        duration(s.engaged_ms_median),
      ]),
    ),
  );
}

function breakdownTable(report: FunnelReport): HTMLElement {
  const name = BREAKDOWNS.find(([value]) => value === report.breakdown_by)?.[1] ?? String(report.breakdown_by);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'breakdown-title' },
    h('h2', { id: 'breakdown-title' }, `By ${name.toLowerCase()}`),
    report.breakdown.length
      ? table(
          'breakdown',
          1,
          [name, ...report.steps.map((s, k) => `${k + 1}. ${s.name}`), 'Conversion'],
          report.breakdown.map((cell) => {
            const first = cell.steps[0]?.entered ?? 0;
            const bar = h('span', { class: 'mini' });
            bar.style.width = `${first ? cell.conversion_rate * 100 : 0}%`;
            return [
              report.breakdown_by === 'landing' && cell.key ? displayPath(cell.key) : label(cell.key),
              ...cell.steps.map((s) => count(s.entered)),
              h('span', { class: 'rate' }, h('span', { class: 'mini-track', 'aria-hidden': 'true' }, bar), pct(cell.conversion_rate)),
            ];
          }),
        )
      : h('p', { class: 'muted' }, 'No visitors in this range.'),
  );
}
