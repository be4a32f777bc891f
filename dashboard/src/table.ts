// The dashboard's tables: a labelled, scrollable region (a wide table scrolls inside it, never the
// page), a first column that heads its rows, text columns left and number columns right.
import { h, type Child } from './dom.js';

/**
 * `text`: how many leading columns hold text (the rest numbers), or the indexes of the text
 * columns; `name` is for tests and styles.
 */
export function table(name: string, text: number | readonly number[], head: string[], rows: Child[][]): HTMLElement {
  const align = (i: number) => ((typeof text === 'number' ? i < text : text.includes(i)) ? 'text' : 'num');
  return h(
    'div',
    { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': `${name} table` },
    h(
      'table',
      { 'data-table': name },
      h('thead', {}, h('tr', {}, ...head.map((title, i) => h('th', { scope: 'col', class: align(i) }, title)))),
      h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells.map((cell, i) => (i === 0 ? h('th', { scope: 'row', class: align(i) }, cell) : h('td', { class: align(i) }, cell)))))),
    ),
  );
}
