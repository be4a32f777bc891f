// The Leads view: the sales funnel over the picked days (with its breakdown), the lead list
// (filtered by stage, in pages) and the timeline of the lead picked in it.
import { api, STAGES, type Lead, type LeadDetail, type LeadStage, type LeadSort, type SalesBreakdown, type SalesFunnelReport, type TimelineEvent, type TimelineStage } from './api.js';
import { field, fill, h, select, type Child } from './dom.js';
import { count, displayPath, duration, label, money, score, STAGE_NAMES, utcTime } from './format.js';
import { rangeFields } from './range.js';
import { salesBreakdownTable, salesChart, salesKpis } from './sales.js';
import { LEAD_SORTS, rangeOf, SALES_BREAKDOWNS, type State } from './state.js';
import { table } from './table.js';

export interface LeadsContext {
  state: State;
  changed(): void;
  status(message: string): void;
  fail(error: unknown): void;
}

export const LEADS_PAGE = 25;

/** The list query of the view's state (main.ts prefetches the same one). */
export const leadsQuery = (state: State) => ({ stage: state.leadStage, sort: state.leadSort, limit: LEADS_PAGE, offset: state.leadOffset });

let latestFunnel = 0;
let latestList = 0;
let latestLead = 0;

export function leadsView(ctx: LeadsContext): HTMLElement {
  const { state } = ctx;
  const funnelResults = h('div', { class: 'results', 'aria-busy': 'true' });
  const listResults = h('div', { 'aria-busy': 'true' });
  const detail = h('div', {});

  const breakdown = select(SALES_BREAKDOWNS, state.salesBreakdown, {
    name: 'sales-breakdown',
    onchange: (e) => {
      state.salesBreakdown = (e.target as HTMLSelectElement).value as SalesBreakdown | '';
      void loadFunnel();
    },
  });
  const stage = select([['', 'All stages'], ...STAGES.map((s): [string, string] => [s, STAGE_NAMES[s]])], state.leadStage, {
    name: 'stage',
    onchange: (e) => {
      state.leadStage = (e.target as HTMLSelectElement).value as LeadStage | '';
      state.leadOffset = 0;
      void loadList();
    },
  });
  const sort = select(LEAD_SORTS, state.leadSort, {
    name: 'sort',
    onchange: (e) => {
      state.leadSort = (e.target as HTMLSelectElement).value as LeadSort;
      state.leadOffset = 0;
      void loadList();
    },
  });

  async function loadFunnel(): Promise<void> {
    ctx.changed();
    const call = ++latestFunnel;
    funnelResults.setAttribute('aria-busy', 'true');
    ctx.status('Loading the sales funnel…');
    try {
      const range = rangeOf(state);
      const report = await api.salesFunnel(state.site, range, state.salesBreakdown);
      if (call !== latestFunnel) return; // a newer pick is on its way
      renderFunnel(report);
      ctx.status(`Sales funnel of ${range.from} to ${range.to} loaded.`);
    } catch (error) {
      if (call === latestFunnel) ctx.fail(error);
    } finally {
      if (call === latestFunnel) funnelResults.setAttribute('aria-busy', 'false');
    }
  }

  function renderFunnel(report: SalesFunnelReport): void {
    fill(
      funnelResults,
      salesKpis(report),
      report.leads
        ? salesChart(report)
        : h('section', { class: 'card empty' }, h('h2', {}, 'No leads in this range'), h('p', {}, 'A visitor becomes a lead when it leaves an e-mail or is named by ', h('code', {}, "funnel('signup', { lead })"), '.')),
      report.breakdown ? salesBreakdownTable(report, state.salesBreakdown) : null,
    );
  }

  async function loadList(focusList = false): Promise<void> {
    ctx.changed();
    const call = ++latestList;
    listResults.setAttribute('aria-busy', 'true');
    try {
      const list = await api.leads(state.site, leadsQuery(state));
      if (call !== latestList) return;
      if (list.total && state.leadOffset >= list.total) {
        // The page went away (leads moved stage): back to the last one there is.
        state.leadOffset = Math.floor((list.total - 1) / LEADS_PAGE) * LEADS_PAGE;
        return loadList(focusList);
      }
      renderList(list.leads, list.total);
      if (focusList) listResults.querySelector<HTMLElement>('.scroll')?.focus();
    } catch (error) {
      if (call === latestList) ctx.fail(error);
    } finally {
      if (call === latestList) listResults.setAttribute('aria-busy', 'false');
    }
  }

  function renderList(leads: Lead[], total: number): void {
    const page = (offset: number) => {
      state.leadOffset = offset;
      void loadList(true);
    };
    const first = state.leadOffset + 1;
    const last = state.leadOffset + leads.length;
    fill(
      listResults,
      leads.length
        ? table(
            'leads',
            [0, 1, 3, 4, 5],
            ['Lead', 'Stage', 'Score', 'Channel', 'Source', 'Campaign', 'In stage', 'First seen', 'Last seen'],
            leads.map((lead) => [
              h(
                'button',
                {
                  type: 'button',
                  class: 'link lead-open',
                  'data-lead': lead.lead,
                  'aria-expanded': state.lead === lead.lead ? 'true' : 'false',
                  'aria-controls': 'lead-detail',
                  onclick: () => void openLead(lead.lead),
                },
                lead.lead,
              ),
              h('span', { class: `stage-tag ${lead.stage}` }, STAGE_NAMES[lead.stage]),
              score(lead.score),
              lead.source.channel,
              label(lead.source.source),
              label(lead.source.campaign),
              duration(lead.waiting_ms),
              utcTime(lead.first_seen),
              utcTime(lead.last_seen),
            ]),
          )
        : h('p', { class: 'muted' }, state.leadStage ? `No lead is in stage ${STAGE_NAMES[state.leadStage]}.` : 'No leads yet.'),
      total > LEADS_PAGE
        ? h(
            'nav',
            { class: 'pager actions', 'aria-label': 'Pages of leads' },
            h('button', { type: 'button', class: 'secondary', disabled: first <= 1, onclick: () => page(Math.max(0, state.leadOffset - LEADS_PAGE)) }, '← Previous'),
            h('span', { 'aria-live': 'polite' }, `${count(first)}–${count(last)} of ${count(total)}`),
            h('button', { type: 'button', class: 'secondary', disabled: last >= total, onclick: () => page(state.leadOffset + LEADS_PAGE) }, 'Next →'),
          )
        : h('p', { class: 'hint' }, total === 1 ? '1 lead' : `${count(total)} leads`),
    );
  }

  async function openLead(id: string): Promise<void> {
    if (state.lead === id && detail.firstChild) return closeLead();
    state.lead = id;
    markOpen();
    const call = ++latestLead;
    ctx.status('Loading the lead’s timeline…');
    try {
      const lead = await api.lead(state.site, id);
      if (call !== latestLead) return;
      fill(detail, leadDetail(lead, closeLead));
      detail.querySelector<HTMLElement>('#lead-detail')?.focus();
      ctx.status(`Timeline of ${id} loaded.`);
    } catch (error) {
      if (call === latestLead) ctx.fail(error);
    }
  }

  function closeLead(): void {
    const id = state.lead;
    state.lead = null;
    latestLead++;
    fill(detail);
    markOpen();
    Array.from(listResults.querySelectorAll<HTMLElement>('.lead-open')).find((button) => button.dataset.lead === id)?.focus();
  }

  function markOpen(): void {
    for (const button of listResults.querySelectorAll<HTMLElement>('.lead-open')) {
      button.setAttribute('aria-expanded', button.dataset.lead === state.lead ? 'true' : 'false');
    }
  }

  const view = h(
    'div',
    { class: 'leads' },
    h(
      'form',
      { class: 'controls card', 'aria-label': 'Sales funnel options', onsubmit: (e) => e.preventDefault() },
      ...rangeFields(state, () => void loadFunnel()),
      field('Breakdown', breakdown),
    ),
    funnelResults,
    h(
      'section',
      { class: 'card lead-list', 'aria-labelledby': 'leads-title' },
      h('h2', { id: 'leads-title' }, 'Leads'),
      h('p', { class: 'hint' }, 'Every lead, whenever it was named; times in UTC. Select a lead for its timeline.'),
      h('form', { class: 'list-controls', 'aria-label': 'Lead list options', onsubmit: (e) => e.preventDefault() }, field('Stage', stage), field('Sort by', sort)),
      listResults,
    ),
    detail,
  );
  void loadFunnel();
  void loadList();
  if (state.lead) void openLead(state.lead);
  return view;
}

function leadDetail(lead: LeadDetail, close: () => void): HTMLElement {
  const source = lead.source;
  const fact = (title: string, value: Child) => h('div', {}, h('dt', {}, title), h('dd', {}, value));
  const won = lead.won?.amount != null && lead.won.currency ? money(lead.won.amount, lead.won.currency) : null;
  return h(
    'section',
    {
      class: 'card detail',
      id: 'lead-detail',
      tabindex: '-1',
      'aria-labelledby': 'lead-title',
      onkeydown: (e) => {
        if ((e as KeyboardEvent).key === 'Escape') close();
      },
    },
    h('div', { class: 'detail-head' }, h('h2', { id: 'lead-title' }, 'Lead ', h('code', {}, lead.lead)), h('button', { type: 'button', class: 'secondary', onclick: close }, 'Close')),
    h(
      'dl',
      { class: 'facts' },
      fact('Stage', h('span', { class: `stage-tag ${lead.stage}` }, STAGE_NAMES[lead.stage])),
      fact('Score', score(lead.score)),
      fact('Entry', [source.channel, label(source.source), label(source.campaign)].join(' · ')),
      fact('Landing page', h('code', {}, displayPath(source.landing))),
      fact('First seen (UTC)', utcTime(lead.first_seen)),
      fact('Last seen (UTC)', utcTime(lead.last_seen)),
      won ? fact('Won', won) : null,
    ),
    h('h3', {}, 'Timeline'),
    lead.timeline.length ? timeline(lead.timeline) : h('p', { class: 'muted' }, 'No events.'),
  );
}

function timeline(items: (TimelineEvent | TimelineStage)[]): HTMLElement {
  const list = h('ol', { class: 'timeline' });
  let session: string | null = null;
  for (const item of items) {
    if (item.type === 'event' && item.session !== session) {
      // A new visit: where it came from, once.
      session = item.session;
      list.append(h('li', { class: 'tl-visit' }, 'Visit from ', [item.channel, label(item.source), label(item.campaign)].join(' · ')));
    }
    list.append(item.type === 'event' ? eventItem(item) : stageItem(item));
  }
  return list;
}

const when = (at: string) => h('time', { datetime: at }, `${utcTime(at, true)} UTC`);

function eventItem(event: TimelineEvent): HTMLElement {
  const props = Object.entries(event.props ?? {});
  return h(
    'li',
    { class: 'tl-event' },
    when(event.at),
    h(
      'span',
      {},
      h('strong', { class: 'tl-name' }, event.name),
      ' on ',
      h('code', {}, displayPath(event.path)),
      event.revenue ? ` · ${event.revenue.currency ? money(event.revenue.amount, event.revenue.currency) : event.revenue.amount}` : null,
      props.length ? h('span', { class: 'tl-props' }, props.map(([key, value]) => `${key}: ${String(value)}`).join(' · ')) : null,
    ),
  );
}

const BY: Record<TimelineStage['by'], string> = { identify: 'named', score: 'by score', api: 'by sales' };

function stageItem(change: TimelineStage): HTMLElement {
  return h(
    'li',
    { class: 'tl-stage', 'data-stage': change.stage },
    when(change.at),
    h(
      'span',
      {},
      'Stage ',
      h('strong', { class: `stage-tag ${change.stage}` }, STAGE_NAMES[change.stage]),
      change.from ? ` from ${STAGE_NAMES[change.from]}` : null,
      ` (${BY[change.by]})`,
      change.amount != null && change.currency ? ` · ${money(change.amount, change.currency)}` : null,
    ),
  );
}
