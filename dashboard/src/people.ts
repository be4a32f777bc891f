// Who is behind a count of the report's steps table: a click on a step's visitors, gone, in-flight or
// converted count lists those entries as the API counts them (GET .../people), a page at a time,
// and a click on a person opens their journey below the list.
import { api, type DateRange, type PeopleStatus, type Person, type StepReport } from './api.js';
import { fill, h, type Child } from './dom.js';
import { count, displayPath, label, utcTime } from './format.js';
import { journeyView, unitName } from './journey.js';
import { table } from './table.js';

export const PEOPLE_PAGE = 50;

/** The shown report's funnel and range: the list is of its entries. */
export interface PeopleWhere {
  site: string;
  funnel: string;
  range: DateRange;
  steps: readonly StepReport[];
}

/** Which count: its step (1-based), status and the report's figure for it. */
export interface PeopleCount {
  step: number;
  status: PeopleStatus;
  total: number;
}

export type OpenPeople = (which: PeopleCount) => void;

interface PeopleContext {
  status(message: string): void;
  fail(error: unknown): void;
}

const WHO: Record<Exclude<PeopleStatus, 'converted'>, string> = { reached: 'Reached', dropped: 'Gone at', in_flight: 'In flight at' };

/** A count of the steps table; a button listing its people when there are any and `open` is given (not on a shared link). */
export function peopleCount(open: OpenPeople | null, step: number, status: PeopleStatus, total: number): Child {
  if (!open || !total) return count(total);
  return h('button', {
    type: 'button',
    class: 'link people-open',
    'data-people-step': step,
    'data-people-status': status,
    'aria-controls': 'people',
    title: 'List them',
    onclick: () => open({ step, status, total }),
  }, count(total));
}

/** The slot the people list opens in, kept across redraws of the report; `close` on another funnel or range. */
export function peoplePanel(ctx: PeopleContext): { element: HTMLElement; open(where: PeopleWhere, which: PeopleCount): void; close(): void } {
  const element = h('div', { class: 'people-slot' });
  let shown: PeopleCount | null = null;
  let latest = 0;

  /** `refocus`: closed by the user, who goes back to the count it was opened from (drawn again since, maybe). */
  function close(refocus = false): void {
    const was = shown;
    shown = null;
    latest++;
    fill(element);
    if (was && refocus) document.querySelector<HTMLElement>(`.people-open[data-people-step="${was.step}"][data-people-status="${was.status}"]`)?.focus();
  }

  function open(where: PeopleWhere, which: PeopleCount): void {
    // The same count again closes its list.
    if (shown?.step === which.step && shown.status === which.status) return close(true);
    shown = which;
    const call = ++latest;
    const people: Person[] = [];
    let cursor: string | null = null;
    let unit: string | null = null;
    const list = h('div', { 'aria-busy': 'true' });
    const journey = h('div', {});
    const name = where.steps[which.step - 1]?.name ?? '';
    const last = where.steps.length;
    const section = h(
      'section',
      {
        class: 'card detail people',
        id: 'people',
        tabindex: '-1',
        'aria-labelledby': 'people-title',
        'data-people-step': which.step,
        'data-people-status': which.status,
        onkeydown: (e) => {
          if ((e as KeyboardEvent).key === 'Escape') close(true);
        },
      },
      h(
        'div',
        { class: 'detail-head' },
        h('h2', { id: 'people-title' }, which.status === 'converted' ? `Converted: reached “${name}”` : `${WHO[which.status]} step ${which.step}: ${name}`,
          ` (${count(which.total)})`),
        h('button', { type: 'button', class: 'secondary', onclick: () => close(true) }, 'Close'),
      ),
      h('p', { class: 'hint' }, 'Each entry into the funnel in the picked days, oldest first; times in UTC. Select a person for their journey.'),
      list,
      journey,
    );
    fill(element, section);
    section.focus();

    async function more(): Promise<void> {
      list.setAttribute('aria-busy', 'true');
      const first = people.length;
      try {
        const page = await api.people(where.site, where.funnel, where.range, {
          step: which.status === 'converted' ? null : which.step,
          status: which.status,
          limit: PEOPLE_PAGE,
          cursor,
        });
        if (call !== latest) return;
        people.push(...page.people);
        cursor = page.next_cursor;
        render();
        // After "More", the focus goes to the first person it brought.
        if (first) list.querySelectorAll<HTMLElement>('.person-open')[first]?.focus();
        ctx.status(`${count(people.length)} of ${count(which.total)} listed.`);
      } catch (error) {
        if (call !== latest) return;
        ctx.fail(error);
        if (first) render(); // its More button again
      } finally {
        if (call === latest) list.setAttribute('aria-busy', 'false');
      }
    }

    async function openJourney(next: string): Promise<void> {
      if (unit === next) return closeJourney();
      unit = next;
      markOpen();
      ctx.status('Loading the journey…');
      try {
        const card = await journeyView(where.site, next, closeJourney);
        if (call !== latest || unit !== next) return;
        fill(journey, card);
        card.focus();
        ctx.status(`Journey of ${unitName(next)} loaded.`);
      } catch (error) {
        if (call === latest && unit === next) ctx.fail(error);
      }
    }

    function closeJourney(): void {
      const was = unit;
      unit = null;
      fill(journey);
      markOpen();
      Array.from(list.querySelectorAll<HTMLElement>('.person-open')).find((button) => button.dataset.unit === was)?.focus();
    }

    function markOpen(): void {
      for (const button of list.querySelectorAll<HTMLElement>('.person-open')) {
        button.setAttribute('aria-expanded', button.dataset.unit === unit ? 'true' : 'false');
      }
    }

    function render(): void {
      fill(
        list,
        people.length
          ? table(
              'people',
              8,
              ['Person', 'Entered', 'Furthest step', 'Last seen', 'Channel', 'Source', 'Campaign', 'Exit page'],
              people.map((person) => [
                h('button', {
                  type: 'button',
                  class: 'link person-open',
                  'data-unit': person.unit,
                  'aria-expanded': person.unit === unit ? 'true' : 'false',
                  'aria-controls': 'journey',
                  onclick: () => void openJourney(person.unit),
                }, person.lead ? h('span', { class: 'stage-tag' }, 'lead') : null, person.lead ? ' ' : null, unitName(person.unit)),
                utcTime(person.entered_at),
                `${person.furthest_step}. ${where.steps[person.furthest_step - 1]?.name ?? ''}`,
                utcTime(person.last_seen),
                label(person.channel),
                label(person.source),
                label(person.campaign),
                person.exit_path !== null ? h('code', {}, displayPath(person.exit_path))
                  : person.furthest_step < last ? h('em', {}, 'Left the site') : '–',
              ]),
            )
          : h('p', { class: 'muted' }, 'Nobody here.'),
        h(
          'div',
          { class: 'pager actions' },
          h('span', { 'data-people-shown': people.length }, `${count(people.length)} of ${count(which.total)}`),
          cursor && h('button', {
            type: 'button',
            class: 'secondary',
            onclick: (e) => {
              (e.currentTarget as HTMLButtonElement).disabled = true;
              void more();
            },
          }, 'More'),
        ),
      );
    }

    void more();
  }

  return { element, open, close: () => close() };
}
