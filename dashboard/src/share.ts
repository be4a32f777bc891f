// A shared link (/share/<token>): one funnel's report, read-only, for whoever holds the link; its
// password first if it has one. Nothing else of the dashboard: no sign-in, no site, no other
// funnel, no editing, no export, no drill-down.
import { ApiError, shareApi, type ShareInfo } from './api.js';
import { field, fill, h } from './dom.js';
import { duration } from './format.js';
import { reportView } from './report.js';
import { initialState, rangeOf } from './state.js';

/** `path`: the link's token as the URL has it, percent-escaped. */
export function openShare(root: HTMLElement, path: string): void {
  let token = path;
  try {
    token = decodeURIComponent(path);
  } catch {
    // Not a token the collector gave: asked for as it is, it opens nothing.
  }
  const main = h('main', { id: 'main', class: 'share', tabindex: '-1' });
  const statusLine = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const errorLine = h('p', { class: 'error banner', role: 'alert' });
  fill(root, h('header', { class: 'top' }, h('span', { class: 'brand' }, 'Funnelbeam'), h('span', { class: 'muted' }, 'Shared report')), errorLine, main, statusLine);

  const status = (message: string) => {
    fill(errorLine);
    fill(statusLine, message);
  };
  let shared: ShareInfo | null = null;
  const fail = (error: unknown) => {
    // The password's cookie ran out: it is asked for again.
    if (error instanceof ApiError && error.status === 401 && shared?.password_required) return askPassword(shared);
    fill(statusLine);
    fill(errorLine, error instanceof Error ? error.message : String(error));
  };

  async function load(): Promise<void> {
    status('Loading the shared report…');
    try {
      const info = (shared = await shareApi.info(token));
      if (info.password_required && !info.unlocked) askPassword(info);
      else showReport(info);
    } catch (error) {
      fill(main, h('section', { class: 'card empty' }, h('h1', {}, 'This link does not open a report'),
        h('p', {}, error instanceof ApiError && error.status === 404 ? 'It was revoked, or it is not complete: ask whoever sent it.' : (error as Error).message)));
      fill(statusLine);
    }
  }

  function askPassword(info: ShareInfo): void {
    const password = h('input', { type: 'password', name: 'share-password', required: true, autocomplete: 'off' });
    const error = h('p', { class: 'error', role: 'alert' });
    fill(
      main,
      h(
        'form',
        {
          class: 'card unlock',
          'aria-labelledby': 'unlock-title',
          onsubmit: async (e) => {
            e.preventDefault();
            fill(error);
            try {
              await shareApi.unlock(token, password.value);
              showReport(info);
            } catch (err) {
              const e = err as ApiError;
              fill(error, e.status === 401 ? 'That is not the password.' : e.status === 429 ? `Too many tries: wait ${duration(e.retryAfter * 1000)} and try again.` : e.message);
              password.select();
            }
          },
        },
        h('h1', { id: 'unlock-title' }, info.funnel.name),
        h('p', {}, 'This report has a password: enter the one you were given with the link.'),
        field('Password', password),
        h('button', { type: 'submit' }, 'View the report'),
        error,
      ),
    );
    fill(statusLine);
    password.focus();
  }

  function showReport(info: ShareInfo): void {
    document.title = `${info.funnel.name} · Funnelbeam`;
    const state = initialState(false);
    state.site = info.site;
    state.funnels = [{ ...info.funnel, created_at: '', updated_at: '' }];
    state.funnelId = info.funnel.id;
    fill(
      main,
      h('h1', { class: 'share-title' }, info.funnel.name),
      reportView({
        state,
        changed: () => {},
        status,
        fail,
        fetch: () => shareApi.report(token, rangeOf(state), state.breakdown),
        openEditor: null,
        exportCsv: false,
        shared: true,
      }),
    );
  }

  void load();
}
