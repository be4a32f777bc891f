// The funnel editor: name, window, order and steps (a page path pattern or an event name,
// optional property conditions, optional time limit after the step before); add, reorder,
// remove; exclusions (an event between two steps takes the entry out); preview the counts
// before saving. The API's 400 names a field: its message shows next to that control.
import { api, type ExclusionDefinition, type Funnel, type FunnelDefinition, type FunnelOrder, type StepDefinition } from './api.js';
import { field, fill, h, select, uid } from './dom.js';
import { count, pct } from './format.js';
import { rangeOf, type State } from './state.js';

export interface EditorContext {
  state: State;
  status(message: string): void;
  fail(error: unknown): void;
  saved(funnel: Funnel): void;
  deleted(id: string): void;
}

interface DraftStep {
  name: string;
  event: string;
  path: string;
  props: string;
  within: string;
}

interface DraftExclusion {
  event: string;
  path: string;
  props: string;
  /** 1-based step numbers: after the first, before the second. */
  between: [number, number];
}

const ORDERS: [FunnelOrder, string][] = [
  ['sequential', 'In order'],
  ['strict', 'Strictly in a row'],
  ['any', 'Any order'],
];

const EVENTS = ['pageview', 'signup', 'add_to_cart', 'checkout', 'purchase', 'popup_view'];

export function editorView(ctx: EditorContext): HTMLElement {
  const { state } = ctx;
  const existing = state.funnels.find((f) => f.id === state.editing) ?? null;
  const draft = {
    name: existing?.name ?? '',
    window: existing?.window ?? '7d',
    order: existing?.order ?? 'sequential',
    steps: existing
      ? existing.steps.map(toDraft)
      : [
          { name: 'Landing', event: 'pageview', path: '/', props: '', within: '' },
          { name: 'Signup', event: 'signup', path: '', props: '', within: '' },
        ],
    exclusions: (existing?.exclusions ?? []).map(toDraftExclusion),
  };

  const name = h('input', { name: 'name', 'data-field': 'name', required: true, maxlength: 100, value: draft.name, autocomplete: 'off' });
  name.addEventListener('input', () => (draft.name = name.value));
  const windowInput = h('input', { name: 'window', 'data-field': 'window', required: true, value: draft.window, pattern: '\\d{1,7}[mhd]', size: 6, autocomplete: 'off' });
  windowInput.addEventListener('input', () => (draft.window = windowInput.value));
  const order = select(ORDERS, draft.order, { name: 'order', 'data-field': 'order', onchange: () => (draft.order = order.value as FunnelOrder) });
  const stepsList = h('ol', { class: 'step-editor' });
  const exclusionsList = h('ol', { class: 'exclusion-editor' });
  const preview = h('div', { class: 'preview', 'aria-live': 'polite' });
  const error = h('p', { class: 'error', role: 'alert' });

  const pick = h(
    'nav',
    { class: 'funnel-list card', 'aria-label': 'Funnels' },
    h('h2', {}, 'Funnels'),
    h(
      'ul',
      {},
      ...state.funnels.map((f) =>
        h('li', {}, h('button', { type: 'button', class: 'link', 'aria-current': f.id === existing?.id ? 'true' : false, onclick: () => reopen(f.id) }, f.name)),
      ),
    ),
    h('button', { type: 'button', class: 'secondary', onclick: () => reopen(null) }, '+ New funnel'),
  );

  function reopen(id: string | null): void {
    state.editing = id;
    view.replaceWith(editorView(ctx));
  }

  function renderSteps(focus?: { index: number; control: string }): void {
    fill(stepsList, ...draft.steps.map((step, i) => stepEditor(step, i)));
    if (focus) (stepsList.children[focus.index]?.querySelector(`[data-control="${focus.control}"]`) as HTMLElement | null)?.focus();
    // The exclusions name the steps by number: their pickers follow the steps.
    renderExclusions();
  }

  function stepEditor(step: DraftStep, i: number): HTMLElement {
    const input = (key: keyof DraftStep, attrs: Record<string, string | number | boolean>) => {
      const el = h('input', { ...attrs, value: step[key], autocomplete: 'off', 'data-control': key, 'data-field': `steps[${i}].${key}` });
      el.addEventListener('input', () => {
        step[key] = el.value;
        // The exclusions' step pickers say the steps' names.
        if (key === 'name') for (const picker of exclusionsList.querySelectorAll('select')) picker.options[i].text = `${i + 1}. ${el.value}`;
      });
      return el;
    };
    const move = (to: number, control: string) => {
      const [moved] = draft.steps.splice(i, 1);
      draft.steps.splice(to, 0, moved);
      renderSteps({ index: to, control: to === 0 || to === draft.steps.length - 1 ? 'name' : control });
    };
    const n = i + 1;
    return h(
      'li',
      { class: 'card step-edit' },
      h('fieldset', {},
        h('legend', {}, `Step ${n}`),
        field('Step name', input('name', { required: true, maxlength: 100 })),
        field('Event', input('event', { required: true, list: 'event-names', pattern: '[A-Za-z0-9_.:\\- ]{1,64}' }), 'pageview, or a custom event such as signup'),
        field('Page path', input('path', { placeholder: '/pricing or /deals/*' }), 'optional; * matches anything'),
        field('Properties', input('props', { placeholder: 'plan=pro, paid=true' }), 'optional; key=value, comma separated'),
        i > 0 && field('Within', input('within', { placeholder: '30m', pattern: '\\d{1,7}[mhd]', size: 6 }), `optional; at most this long after step ${i}: 30m, 12h, 2d`),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', 'data-control': 'up', disabled: i === 0, 'aria-label': `Move step ${n} up`, onclick: () => move(i - 1, 'up') }, '↑ Up'),
          h('button', { type: 'button', class: 'secondary', 'data-control': 'down', disabled: i === draft.steps.length - 1, 'aria-label': `Move step ${n} down`, onclick: () => move(i + 1, 'down') }, '↓ Down'),
          h('button', {
            type: 'button',
            class: 'secondary danger',
            disabled: draft.steps.length <= 2,
            'aria-label': `Remove step ${n}`,
            onclick: () => {
              draft.steps.splice(i, 1);
              renderSteps({ index: Math.min(i, draft.steps.length - 1), control: 'name' });
            },
          }, 'Remove'),
        ),
      ),
    );
  }

  function renderExclusions(focus?: number): void {
    const steps = draft.steps.map((s, i) => [String(i + 1), `${i + 1}. ${s.name}`] as [string, string]);
    fill(exclusionsList, ...draft.exclusions.map((exclusion, j) => exclusionEditor(exclusion, j, steps)));
    if (focus !== undefined) (exclusionsList.children[focus]?.querySelector('[data-control="event"]') as HTMLElement | null)?.focus();
  }

  function exclusionEditor(exclusion: DraftExclusion, j: number, steps: [string, string][]): HTMLElement {
    const at = `exclusions[${j}]`;
    const input = (key: 'event' | 'path' | 'props', attrs: Record<string, string | number | boolean>) => {
      const el = h('input', { ...attrs, value: exclusion[key], autocomplete: 'off', 'data-control': key, 'data-field': `${at}.${key}` });
      el.addEventListener('input', () => (exclusion[key] = el.value));
      return el;
    };
    // A step removed since: the pickers hold on to the last one.
    const bound = (side: 0 | 1) => {
      exclusion.between[side] = Math.min(exclusion.between[side], steps.length);
      const el = select(steps, String(exclusion.between[side]), { 'data-control': side ? 'before' : 'after' });
      el.addEventListener('change', () => (exclusion.between[side] = Number(el.value)));
      return el;
    };
    return h(
      'li',
      { class: 'card exclusion-edit' },
      h('fieldset', {},
        h('legend', {}, `Exclusion ${j + 1}`),
        field('Excluded event', input('event', { required: true, list: 'event-names', pattern: '[A-Za-z0-9_.:\\- ]{1,64}' }), 'such as refund, or pageview with a path'),
        field('Page path', input('path', { placeholder: '/refund*' }), 'optional; * matches anything'),
        field('Properties', input('props', { placeholder: 'plan=pro' }), 'optional; key=value, comma separated'),
        h('div', { class: 'between', 'data-field': `${at}.between` }, field('After step', bound(0)), field('Before step', bound(1))),
        h('div', { class: 'actions' }, h('button', {
          type: 'button',
          class: 'secondary danger',
          'aria-label': `Remove exclusion ${j + 1}`,
          onclick: () => {
            draft.exclusions.splice(j, 1);
            renderExclusions();
            (exclusionsList.querySelector<HTMLElement>('[data-control="event"]') ?? addExclusion).focus();
          },
        }, 'Remove')),
      ),
    );
  }

  function definition(): FunnelDefinition | null {
    try {
      const def: FunnelDefinition = {
        name: draft.name.trim(),
        window: draft.window.trim(),
        steps: draft.steps.map((s, i): StepDefinition => {
          const step: StepDefinition = { name: s.name.trim(), event: s.event.trim() };
          if (s.path.trim()) step.path = s.path.trim();
          const props = parseProps(s.props, `Step ${i + 1}`);
          if (props) step.props = props;
          if (i > 0 && s.within.trim()) step.within = s.within.trim();
          return step;
        }),
      };
      // The default is left out, so saving a funnel unchanged keeps its definition as it was.
      if (draft.order !== 'sequential' || existing?.order) def.order = draft.order;
      if (draft.exclusions.length) {
        def.exclusions = draft.exclusions.map((x, j): ExclusionDefinition => {
          const exclusion: ExclusionDefinition = { event: x.event.trim(), between: [...x.between] };
          if (x.path.trim()) exclusion.path = x.path.trim();
          const props = parseProps(x.props, `Exclusion ${j + 1}`);
          if (props) exclusion.props = props;
          return exclusion;
        });
      }
      return def;
    } catch (e) {
      fill(error, (e as Error).message);
      return null;
    }
  }

  async function runPreview(): Promise<void> {
    clearErrors();
    const def = definition();
    if (!def) return;
    const range = rangeOf(state);
    fill(preview, h('p', { class: 'muted' }, 'Counting…'));
    try {
      const report = await api.preview(state.site, def, range);
      const first = report.steps[0]?.entered ?? 0;
      fill(
        preview,
        h('h3', {}, `Preview, ${range.from} to ${range.to}`),
        h('ol', { class: 'preview-steps' }, ...report.steps.map((s) => h('li', {}, s.name, ': ', h('strong', {}, count(s.entered)), `${s.entered === 1 ? ' visitor' : ' visitors'} (${pct(first ? s.entered / first : 0)})`))),
        h('p', {}, `${count(report.converted)} converted: ${pct(report.conversion_rate)}.`),
        report.excluded ? h('p', { class: 'excluded' }, `${count(report.excluded)} ${report.excluded === 1 ? 'entry' : 'entries'} excluded.`) : null,
      );
    } catch (e) {
      fill(preview);
      showError(e);
    }
  }

  async function save(event: Event): Promise<void> {
    event.preventDefault();
    clearErrors();
    const def = definition();
    if (!def) return;
    const id = existing?.id ?? uniqueId(def.name, state.funnels);
    // The collector answers once the funnel is computed over the history, or after 3 s on a large site.
    const submit = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
    submit.disabled = true;
    ctx.status('Saving the funnel…');
    try {
      const funnel = await api.saveFunnel(state.site, id, def);
      ctx.status(`Funnel “${funnel.name}” saved.`);
      ctx.saved(funnel);
    } catch (e) {
      showError(e);
    } finally {
      submit.disabled = false;
    }
  }

  function clearErrors(): void {
    fill(error);
    for (const el of form.querySelectorAll('.field-error')) el.remove();
    for (const el of form.querySelectorAll('[aria-invalid]')) {
      el.removeAttribute('aria-invalid');
      const rest = el.getAttribute('aria-describedby')?.split(' ').filter((id) => !id.startsWith('error-')).join(' ');
      if (rest) el.setAttribute('aria-describedby', rest);
      else el.removeAttribute('aria-describedby');
    }
  }

  function showError(e: unknown): void {
    const err = e as { message?: string; field?: string | null; status?: number };
    if (err.status === 401) return ctx.fail(e);
    const message = err.message ?? String(e);
    const target = err.field ? fieldElement(err.field) : null;
    if (!target) return fill(error, err.field && err.field !== '(body)' ? `${err.field}: ` : '', message);
    // Beside the control the API names (or the pair of step pickers), which takes the focus.
    const controls = target.matches('input, select') ? [target] : [...target.querySelectorAll<HTMLElement>(':scope > .field > :is(input, select)')];
    const note = h('p', { class: 'error field-error', id: uid('error'), role: 'alert', 'data-error-for': err.field }, message);
    (target.matches('input, select') ? target.closest('.field') ?? target : target).append(note);
    for (const control of controls) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), note.id].filter(Boolean).join(' '));
    }
    controls[0]?.focus();
  }

  /** The control of an API field such as `steps[1].within`, or of the nearest field holding it (`exclusions[0].between[1]`). */
  function fieldElement(name: string): HTMLElement | null {
    for (let at = name; at; at = at.replace(/(\.[^.[\]]*|\[\d+\])$/, '')) {
      const found = [...form.querySelectorAll<HTMLElement>('[data-field]')].find((el) => el.dataset.field === at);
      if (found) return found;
      if (!/[.[]/.test(at)) break;
    }
    return null;
  }

  const addExclusion = h('button', {
    type: 'button',
    class: 'secondary',
    onclick: () => {
      draft.exclusions.push({ event: '', path: '', props: '', between: [1, draft.steps.length] });
      renderExclusions(draft.exclusions.length - 1);
    },
  }, '+ Add exclusion');
  renderSteps();
  const form = h(
    'form',
    { class: 'editor', 'aria-labelledby': 'editor-title', novalidate: true, onsubmit: (e) => void save(e) },
    h('h2', { id: 'editor-title' }, existing ? 'Edit “' : 'New funnel', existing ? existing.name : '', existing ? '”' : ''),
    h('div', { class: 'row' },
      field('Funnel name', name),
      field('Window', windowInput, 'time from step 1 to the last: 30m, 12h, 7d'),
      field('Order', order, 'in order: other events may come between steps; strictly: none may; any: the steps in any order')),
    h('datalist', { id: 'event-names' }, ...EVENTS.map((e) => h('option', { value: e }))),
    stepsList,
    h(
      'div',
      { class: 'actions' },
      h('button', {
        type: 'button',
        class: 'secondary',
        onclick: () => {
          if (draft.steps.length >= 20) return fill(error, 'A funnel has at most 20 steps.');
          draft.steps.push({ name: `Step ${draft.steps.length + 1}`, event: 'pageview', path: '', props: '', within: '' });
          renderSteps({ index: draft.steps.length - 1, control: 'name' });
        },
      }, '+ Add step'),
    ),
    // Too many exclusions is the API's to say: its message shows here.
    h('section', { class: 'exclusions', 'aria-labelledby': 'exclusions-title', 'data-field': 'exclusions' },
      h('h3', { id: 'exclusions-title' }, 'Exclusions'),
      h('p', { class: 'hint' }, 'An entry in which this event happens between the two steps is taken out of every step, and counted as excluded.'),
      exclusionsList,
      addExclusion,
    ),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => void runPreview() }, 'Preview counts'),
      h('button', { type: 'submit' }, 'Save funnel'),
      existing
        ? h('button', {
            type: 'button',
            class: 'secondary danger',
            onclick: async () => {
              if (!confirm(`Delete the funnel “${existing.name}”? Its events stay.`)) return;
              try {
                await api.deleteFunnel(state.site, existing.id);
                ctx.status(`Funnel “${existing.name}” deleted.`);
                ctx.deleted(existing.id);
              } catch (e) {
                showError(e);
              }
            },
          }, 'Delete funnel')
        : null,
    ),
    error,
    preview,
  );
  const view = h('div', { class: 'editor-view' }, pick, form);
  return view;
}

const propsText = (props: Record<string, string> | undefined): string => Object.entries(props ?? {}).map(([k, v]) => `${k}=${v}`).join(', ');

function toDraft(step: StepDefinition): DraftStep {
  return { name: step.name, event: step.event, path: step.path ?? '', props: propsText(step.props), within: step.within ?? '' };
}

function toDraftExclusion(exclusion: ExclusionDefinition): DraftExclusion {
  return { event: exclusion.event, path: exclusion.path ?? '', props: propsText(exclusion.props), between: [...exclusion.between] };
}

/** `where`: "Step 2", "Exclusion 1", for the message. */
function parseProps(text: string, where: string): Record<string, string> | null {
  const pairs = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (!pairs.length) return null;
  const props: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`${where}: properties are key=value, comma separated ("${pair}" is not).`);
    props[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return props;
}

/** An id for the API from the name: lowercase words joined by dashes, unique among the site's funnels. */
function uniqueId(name: string, funnels: Funnel[]): string {
  const base = name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 56) || 'funnel';
  const taken = new Set(funnels.map((f) => f.id));
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
  return id;
}
