// The dashboard: sign in with the admin token, then the report, the funnel editor, the leads
// and the site settings of the site picked in the header.
import { api, ApiError, onUnauthorized, session, type Funnel, type Site } from './api.js';
import { editorView } from './editor.js';
import { field, fill, h, select } from './dom.js';
import { leadsQuery, leadsView } from './leads.js';
import { reportView } from './report.js';
import { settingsView } from './settings.js';
import { initialState, rangeOf, saveState, type View } from './state.js';

const root = document.getElementById('app')!;
const state = initialState();
const statusLine = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
const errorLine = h('p', { class: 'error banner', role: 'alert' });

onUnauthorized(() => signIn('Your session ended: sign in again with the admin token.'));

function signIn(message = ''): void {
  const token = h('input', { type: 'password', name: 'token', required: true, autocomplete: 'current-password', spellcheck: 'false' });
  const error = h('p', { class: 'error', role: 'alert' }, message);
  const form = h(
    'form',
    {
      class: 'card signin',
      'aria-labelledby': 'signin-title',
      onsubmit: async (e) => {
        e.preventDefault();
        fill(error);
        const value = token.value.trim();
        if (!value) return fill(error, 'Enter the admin token.');
        try {
          const sites = await api.sites(value);
          session.signIn(value);
          await start(sites);
        } catch (err) {
          fill(error, err instanceof ApiError && err.status === 401 ? 'That is not the admin token.' : `Could not sign in: ${(err as Error).message}`);
          token.select();
        }
      },
    },
    h('h1', { id: 'signin-title' }, 'Funnelbeam'),
    h('p', {}, 'Sign in with the admin token that ', h('code', {}, 'npm start'), ' printed.'),
    field('Admin token', token, 'kept for this browser tab only'),
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  fill(root, h('main', { class: 'signin-page' }, form));
  token.focus();
}

async function start(sites?: Site[]): Promise<void> {
  // Coming back to the tab: the report last shown is fetched alongside the sites and funnels
  // rather than after them (the view's own request then joins this one).
  if (state.view === 'report' && state.site && state.funnelId) {
    api.report(state.site, state.funnelId, rangeOf(state), state.breakdown).catch(() => {});
  }
  if (state.view === 'leads' && state.site) {
    api.salesFunnel(state.site, rangeOf(state), state.salesBreakdown).catch(() => {});
    api.leads(state.site, leadsQuery(state)).catch(() => {});
  }
  try {
    state.sites = sites ?? (await api.sites());
    if (!state.sites.some((s) => s.domain === state.site)) state.site = state.sites[0]?.domain ?? '';
    await loadFunnels();
    render();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) fail(err);
  }
}

async function loadFunnels(): Promise<void> {
  state.funnels = state.site ? await api.funnels(state.site) : [];
  if (!state.funnels.some((f) => f.id === state.funnelId)) {
    state.funnelId = state.funnels[0]?.id ?? '';
    state.step = null;
  }
}

function status(message: string): void {
  fill(errorLine);
  fill(statusLine, message);
}

function fail(err: unknown): void {
  if (err instanceof ApiError && err.status === 401) return; // already back at the sign-in form
  fill(statusLine);
  fill(errorLine, err instanceof Error ? err.message : String(err));
}

function go(view: View): void {
  state.view = view;
  render();
}

function render(): void {
  saveState(state);
  fill(errorLine);
  const site = state.sites.find((s) => s.domain === state.site);
  const sitePicker = select(
    state.sites.map((s) => [s.domain, s.domain]),
    state.site,
    {
      name: 'site',
      onchange: async (e) => {
        state.site = (e.target as HTMLSelectElement).value;
        state.funnelId = '';
        state.lead = null;
        state.leadOffset = 0;
        try {
          await loadFunnels();
          render();
        } catch (err) {
          fail(err);
        }
      },
    },
  );
  const tab = (view: View, text: string) =>
    h('button', { type: 'button', class: 'tab', 'aria-current': state.view === view ? 'page' : false, onclick: () => go(view) }, text);

  const main = h('main', { id: 'main', tabindex: '-1' });
  fill(
    root,
    h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand' }, 'Funnelbeam'),
      state.sites.length ? field('Site', sitePicker) : null,
      h('nav', { 'aria-label': 'Sections' }, tab('report', 'Report'), tab('editor', 'Funnels'), tab('leads', 'Leads'), tab('settings', 'Site settings')),
      h('button', { type: 'button', class: 'secondary signout', onclick: () => { session.signOut(); signIn(); } }, 'Sign out'),
    ),
    errorLine,
    main,
    statusLine,
  );

  if (!site) {
    main.append(h('section', { class: 'card empty' }, h('h2', {}, 'No site yet'), h('p', {}, 'Add the first site under Site settings.')));
    if (state.view !== 'settings') return;
  }
  if (state.view === 'report') {
    main.append(reportView({ state, changed: () => saveState(state), status, fail, openEditor: (id) => { state.editing = id; go('editor'); } }));
  } else if (state.view === 'leads') {
    main.append(leadsView({ state, changed: () => saveState(state), status, fail }));
  } else if (state.view === 'editor') {
    main.append(editorView({ state, status, fail, saved: funnelSaved, deleted: funnelDeleted }));
  } else {
    main.append(settingsView({ site: site ?? null, status, fail, siteSaved }));
  }
}

function funnelSaved(funnel: Funnel): void {
  state.funnels = [...state.funnels.filter((f) => f.id !== funnel.id), funnel];
  state.funnelId = funnel.id;
  state.editing = funnel.id;
  state.step = null;
  go('report');
}

function funnelDeleted(id: string): void {
  state.funnels = state.funnels.filter((f) => f.id !== id);
  if (state.funnelId === id) state.funnelId = state.funnels[0]?.id ?? '';
  state.editing = null;
  render();
}

async function siteSaved(site: Site): Promise<void> {
  const isNew = !state.sites.some((s) => s.domain === site.domain);
  state.sites = [...state.sites.filter((s) => s.domain !== site.domain), site].sort((a, b) => a.domain.localeCompare(b.domain));
  if (isNew) {
    state.site = site.domain;
    state.lead = null;
    state.leadOffset = 0;
    await loadFunnels().catch(fail);
  }
  render();
  status(isNew ? `Site ${site.domain} added.` : `Settings of ${site.domain} saved.`);
}

if (session.token()) void start();
else signIn();
