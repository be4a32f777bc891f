// The funnel editor: name, window and steps (a page path pattern or an event name, optional
// property conditions); add, reorder, remove; preview the counts before saving.
import { api, type Funnel, type FunnelDefinition, type StepDefinition } from './api.js';
import { field, fill, h } from './dom.js';
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
}

const EVENTS = ['pageview', 'signup', 'add_to_cart', 'checkout', 'purchase', 'popup_view'];

export function editorView(ctx: EditorContext): HTMLElement {
  const { state } = ctx;
  const existing = state.funnels.find((f) => f.id === state.editing) ?? null;
  const draft = {
    name: existing?.name ?? '',
    window: existing?.window ?? '7d',
    steps: existing
      ? existing.steps.map(toDraft)
      : [
          { name: 'Landing', event: 'pageview', path: '/', props: '' },
          { name: 'Signup', event: 'signup', path: '', props: '' },
        ],
  };

  const name = h('input', { name: 'name', required: true, maxlength: 100, value: draft.name, autocomplete: 'off' });
  name.addEventListener('input', () => (draft.name = name.value));
  const windowInput = h('input', { name: 'window', required: true, value: draft.window, pattern: '\\d{1,7}[mhd]', size: 6, autocomplete: 'off' });
  windowInput.addEventListener('input', () => (draft.window = windowInput.value));
  const stepsList = h('ol', { class: 'step-editor' });
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
  }

  function stepEditor(step: DraftStep, i: number): HTMLElement {
    const input = (key: keyof DraftStep, attrs: Record<string, string | number | boolean>) => {
      const el = h('input', { ...attrs, value: step[key], autocomplete: 'off', 'data-control': key });
      el.addEventListener('input', () => (step[key] = el.value));
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

  function definition(): FunnelDefinition | null {
    try {
      return {
        name: draft.name.trim(),
        window: draft.window.trim(),
        steps: draft.steps.map((s, i): StepDefinition => {
          const step: StepDefinition = { name: s.name.trim(), event: s.event.trim() };
          if (s.path.trim()) step.path = s.path.trim();
          const props = parseProps(s.props, i);
          if (props) step.props = props;
          return step;
        }),
      };
    } catch (e) {
      fill(error, (e as Error).message);
      return null;
    }
  }

  async function runPreview(): Promise<void> {
    fill(error);
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
      );
    } catch (e) {
      fill(preview);
      showError(e);
    }
  }

  async function save(event: Event): Promise<void> {
    event.preventDefault();
    fill(error);
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

  function showError(e: unknown): void {
    const err = e as { message?: string; field?: string | null; status?: number };
    if (err.status === 401) return ctx.fail(e);
    fill(error, err.field && err.field !== '(body)' ? `${err.field}: ` : '', err.message ?? String(e));
  }

  renderSteps();
  const form = h(
    'form',
    { class: 'editor', 'aria-labelledby': 'editor-title', novalidate: true, onsubmit: (e) => void save(e) },
    h('h2', { id: 'editor-title' }, existing ? 'Edit “' : 'New funnel', existing ? existing.name : '', existing ? '”' : ''),
    h('div', { class: 'row' }, field('Funnel name', name), field('Window', windowInput, 'time from step 1 to the last: 30m, 12h, 7d')),
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
          draft.steps.push({ name: `Step ${draft.steps.length + 1}`, event: 'pageview', path: '', props: '' });
          renderSteps({ index: draft.steps.length - 1, control: 'name' });
        },
      }, '+ Add step'),
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

function toDraft(step: StepDefinition): DraftStep {
  return {
    name: step.name,
    event: step.event,
    path: step.path ?? '',
    props: Object.entries(step.props ?? {}).map(([k, v]) => `${k}=${v}`).join(', '),
  };
}

function parseProps(text: string, index: number): Record<string, string> | null {
  const pairs = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (!pairs.length) return null;
  const props: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`Step ${index + 1}: properties are key=value, comma separated ("${pair}" is not).`);
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
