// The date range picker that the report and the Leads view share: a preset, or two UTC days.
import { field, h, select } from './dom.js';
import { RANGE_PRESETS, type RangePreset, type State } from './state.js';

/** The range select and the custom days (shown for "Custom range"); `changed` runs on each pick. */
export function rangeFields(state: State, changed: () => void): HTMLElement[] {
  const from = h('input', { type: 'date', name: 'from', value: state.custom.from, required: true });
  const to = h('input', { type: 'date', name: 'to', value: state.custom.to, required: true });
  const custom = h('div', { class: 'custom-range' }, field('From', from), field('To', to));
  custom.hidden = state.preset !== 'custom';
  const onCustom = () => {
    if (!from.value || !to.value) return;
    state.custom = from.value <= to.value ? { from: from.value, to: to.value } : { from: to.value, to: from.value };
    changed();
  };
  from.addEventListener('change', onCustom);
  to.addEventListener('change', onCustom);
  const range = select(RANGE_PRESETS, state.preset, {
    name: 'range',
    onchange: (e) => {
      state.preset = (e.target as HTMLSelectElement).value as RangePreset;
      custom.hidden = state.preset !== 'custom';
      changed();
    },
  });
  return [field('Date range (UTC)', range), custom];
}
