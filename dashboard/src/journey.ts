// A person's journey, opened from the people list: the unit's events in time order
// (GET .../visitors/:unit/events), each with its time, name, page and the visit's source.
import { api, type JourneyEvent } from './api.js';
import { h } from './dom.js';
import { displayPath, label, utcTime } from './format.js';
import { table } from './table.js';

/** Events shown at most: a journey is read, not exported. */
export const JOURNEY_LIMIT = 200;

/** A unit as people read it: the lead id once named, else the visitor id (`visitor:ID`, `lead:ID`). */
export function unitName(unit: string): string {
  return unit.slice(unit.indexOf(':') + 1);
}

/** The journey's card; `close` gives the focus back to the list. */
export async function journeyView(site: string, unit: string, close: () => void): Promise<HTMLElement> {
  const { events } = await api.journey(site, unit, JOURNEY_LIMIT);
  return h(
    'section',
    {
      class: 'card detail journey',
      id: 'journey',
      tabindex: '-1',
      'aria-labelledby': 'journey-title',
      'data-unit': unit,
      onkeydown: (e) => {
        if ((e as KeyboardEvent).key !== 'Escape') return;
        e.stopPropagation(); // the people list around it stays open
        close();
      },
    },
    h(
      'div',
      { class: 'detail-head' },
      h('h3', { id: 'journey-title' }, unit.startsWith('lead:') ? 'Journey of lead ' : 'Journey of visitor ', h('code', {}, unitName(unit))),
      h('button', { type: 'button', class: 'secondary', onclick: close }, 'Close'),
    ),
    events.length
      ? h(
          'div',
          {},
          h('p', { class: 'hint' }, events.length >= JOURNEY_LIMIT ? `The first ${JOURNEY_LIMIT} events; times in UTC.` : 'Every event, in order; times in UTC.'),
          table(
            'journey',
            4,
            ['Time', 'Event', 'Page', 'Source'],
            events.map((event: JourneyEvent) => [
              h('time', { datetime: event.ts }, utcTime(event.ts, true)),
              event.name,
              h('code', {}, displayPath(event.path)),
              [event.channel, label(event.source)].filter(Boolean).join(' · '),
            ]),
          ),
        )
      : h('p', { class: 'muted' }, 'No events: they may have been erased.'),
  );
}
