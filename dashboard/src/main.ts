// The dashboard: sign in (e-mail and password, or the owner token), then the report, the funnel
// editor, the leads, the site settings and the admin page of the site picked in the header, each
// shown only to whom may use it (GET /api/me). A shared link (/share/…) shows its one report alone.
import { adminView } from './admin.js';
import { api, ApiError, onUnauthorized, session, type Funnel, type Me, type Site } from './api.js';
import { editorView } from './editor.js';
import { field, fill, h, select } from './dom.js';
import { duration } from './format.js';
import { leadsQuery, leadsView } from './leads.js';
import { reportView } from './report.js';
import { settingsView } from './settings.js';
import { openShare } from './share.js';
import { can, initialState, rangeOf, saveState, VIEW_PERMISSION, type View } from './state.js';

const root = document.getElementById('app')!;
const state = initialState();
const statusLine = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
const errorLine = h('p', { class: 'error banner', role: 'alert' });

onUnauthorized((hadToken) => signIn(`Your session ended: sign in again${hadToken ? ' with the admin token' : ''}.`, hadToken));

/** `withToken`: the focus goes to the token field, as it was the token that was refused. */
function signIn(message = '', withToken = false): void {
  state.me = null;
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', spellcheck: 'false' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password' });
  // Not offered to password managers: they would take it for a second password of the e-mail.
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false' });
  const error = h('p', { class: 'error', role: 'alert' }, message);
  // One form, one button: the token when one is entered, else the e-mail and password.
  const form = h(
    'form',
    {
      class: 'card signin',
      'aria-labelledby': 'signin-title',
      onsubmit: async (e) => {
        e.preventDefault();
        fill(error);
        const key = token.value.trim();
        try {
          if (key) {
            // The owner token, or an API key: whom it names is asked with it, then it is kept for the tab.
            const [me, sites] = await Promise.all([api.me(key), api.sites(key)]);
            session.signIn(key);
            return await start(me, sites);
          }
          if (!email.value.trim() || !password.value) return fill(error, 'Enter your e-mail and password, or the admin token.');
          await api.login(email.value.trim(), password.value);
          await start(await api.me(null));
        } catch (err) {
          const refused = err instanceof ApiError ? err : null;
          if (refused?.status === 429) fill(error, `Too many failed attempts: try again in ${duration(refused.retryAfter * 1000)}.`);
          else if (refused?.status === 401) fill(error, key ? 'That is not the admin token.' : 'Wrong e-mail or password.');
          else fill(error, `Could not sign in: ${(err as Error).message}`);
          (key ? token : password).select();
        }
      },
    },
    h('h1', { id: 'signin-title' }, 'Funnelbeam'),
    h('p', {}, 'Sign in with your e-mail and password.'),
    field('E-mail', email),
    field('Password', password),
    h(
      'fieldset',
      { class: 'alt' },
      h('legend', {}, 'Sign in with the owner token instead'),
      field('Admin token', token, 'the token that npm start printed (or an API key); kept for this browser tab only'),
    ),
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  fill(root, h('main', { class: 'signin-page' }, form));
  (withToken ? token : email).focus();
}

/** A tab without a kept token: a cookie session may still be alive, else the sign-in form. */
async function resume(): Promise<void> {
  let me: Me;
  try {
    me = await api.me(null);
  } catch (err) {
    return signIn(err instanceof ApiError && err.status === 401 ? '' : `Could not reach the collector: ${(err as Error).message}`);
  }
  await start(me);
}

async function start(me?: Me, sites?: Site[]): Promise<void> {
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
    [state.me, state.sites] = await Promise.all([me ?? api.me(), sites ?? api.sites()]);
    if (!can(state, VIEW_PERMISSION[state.view])) state.view = 'report';
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
    can(state, VIEW_PERMISSION[view]) &&
    h('button', { type: 'button', class: 'tab', 'aria-current': state.view === view ? 'page' : false, onclick: () => go(view) }, text);
  const me = state.me;

  const main = h('main', { id: 'main', tabindex: '-1' });
  fill(
    root,
    h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand' }, 'Funnelbeam'),
      state.sites.length ? field('Site', sitePicker) : null,
      h('nav', { 'aria-label': 'Sections' }, tab('report', 'Report'), tab('editor', 'Funnels'), tab('leads', 'Leads'), tab('settings', 'Site settings'), tab('admin', 'Admin')),
      h('span', { class: 'who' }, me?.email ? `${me.email} (${me.role})` : me?.role === 'key' ? 'API key' : 'Owner token'),
      h('button', { type: 'button', class: 'secondary signout', onclick: signOut }, 'Sign out'),
    ),
    errorLine,
    main,
    statusLine,
  );

  if (!site) {
    main.append(h('section', { class: 'card empty' }, h('h2', {}, 'No site yet'),
      h('p', {}, can(state, 'admin') ? 'Add the first site under Site settings.' : 'No site is open to you yet: ask an admin for one.')));
    if (state.view !== 'settings' && state.view !== 'admin') return;
  }
  if (state.view === 'report') {
    main.append(reportView({
      state,
      changed: () => saveState(state),
      status,
      fail,
      fetch: () => api.report(state.site, state.funnelId, rangeOf(state), state.breakdown),
      openEditor: can(state, 'funnels:write') ? (id) => { state.editing = id; go('editor'); } : null,
      exportCsv: can(state, 'export:read'),
    }));
  } else if (state.view === 'leads') {
    main.append(leadsView({ state, changed: () => saveState(state), status, fail }));
  } else if (state.view === 'editor') {
    main.append(editorView({ state, status, fail, saved: funnelSaved, deleted: funnelDeleted }));
  } else if (state.view === 'admin') {
    main.append(adminView({ state, site: site ?? null, status, fail }));
  } else {
    main.append(settingsView({ site: site ?? null, status, fail, siteSaved }));
  }
}

async function signOut(): Promise<void> {
  // A kept token is only forgotten; a cookie session is ended on the collector too.
  if (session.token()) session.signOut();
  else await api.logout().catch(() => {});
  signIn();
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

const shared = /^\/share\/([^/]+)/.exec(location.pathname);
if (shared) openShare(root, shared[1]);
else if (session.token()) void start();
else void resume();
