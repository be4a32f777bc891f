// The admin page: who may sign in (users, their roles, sites and passwords), the API keys of
// scripts and CRMs, the shared links of the picked site, and the audit log. A new key or link is
// shown once, to copy.
import { api, ApiError, KEY_SCOPES, type ApiKey, type AuditEntry, type KeyScope, type Role, type Share, type Site, type User } from './api.js';
import { field, fill, h, select, uid, type Child } from './dom.js';
import { utcTime } from './format.js';
import type { State } from './state.js';
import { table } from './table.js';

export interface AdminContext {
  state: State;
  /** The picked site, for its shared links; null before the first site exists. */
  site: Site | null;
  status(message: string): void;
  fail(error: unknown): void;
}

const ROLES: [Role, string][] = [
  ['viewer', 'Viewer'],
  ['editor', 'Editor'],
  ['admin', 'Admin'],
];

const sitesText = (sites: string[] | null): string => (sites === null ? 'All sites' : sites.join(', ') || 'None');

/** The page's sections; each change they make shows in the audit log at once. */
interface Admin extends AdminContext {
  audited(): void;
}

export function adminView(context: AdminContext): HTMLElement {
  const audit = auditSection(context);
  const ctx: Admin = { ...context, audited: audit.reload };
  return h('div', { class: 'admin' }, usersSection(ctx), keysSection(ctx), ctx.site && sharesSection(ctx, ctx.site), audit.el);
}

function usersSection(ctx: Admin): HTMLElement {
  const list = h('div', { 'aria-busy': 'true' });
  const listError = h('p', { class: 'error', role: 'alert' });
  const email = h('input', { type: 'email', name: 'user-email', required: true, autocomplete: 'off', spellcheck: 'false' });
  const password = h('input', { type: 'password', name: 'user-password', required: true, minlength: 10, autocomplete: 'new-password' });
  const role = select(ROLES, 'viewer', { name: 'user-role' });
  const sites = siteChoices(ctx, 'user-sites');
  const error = h('p', { class: 'error', role: 'alert' });

  const refresh = () => loadInto(ctx, list, api.users(), (users: User[]) =>
    users.length
      ? table('users', 3, ['E-mail', 'Role', 'Sites', 'Added (UTC)', ''], users.map((user) => [
          user.email,
          select(ROLES, user.role, {
            name: 'role',
            'aria-label': `Role of ${user.email}`,
            onchange: (e) => void act(ctx, listError, async () => {
              const saved = await api.updateUser(user.id, { role: (e.target as HTMLSelectElement).value as Role });
              ctx.status(`${saved.email} is now ${saved.role}.`);
            }, refresh),
          }),
          userSites(ctx, user),
          utcTime(user.created_at),
          userActions(ctx, user, h('button', {
            type: 'button',
            class: 'secondary danger',
            'aria-label': `Delete ${user.email}`,
            onclick: () => confirm(`Delete ${user.email}? Their sessions end now.`) && void act(ctx, listError, async () => {
              await api.deleteUser(user.id);
              ctx.status(`${user.email} deleted.`);
            }, refresh),
          }, 'Delete')),
        ]))
      : h('p', { class: 'muted' }, 'No users yet: only the owner token signs in.'));

  const form = h(
    'form',
    {
      'aria-labelledby': 'add-user-title',
      onsubmit: (e) => {
        e.preventDefault();
        void act(ctx, error, async () => {
          const picked = sites.value();
          const user = await api.createUser({ email: email.value.trim(), password: password.value, role: role.value as Role, ...(picked && { sites: picked }) });
          form.reset();
          ctx.status(`${user.email} added as ${user.role}.`);
        }, refresh);
      },
    },
    h('h3', { id: 'add-user-title' }, 'Add a user'),
    h('div', { class: 'row' }, field('E-mail', email), field('Password', password, 'at least 10 characters; tell it to them'), field('Role', role, 'viewer: reads; editor: also funnels and leads; admin: everything')),
    sites.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add user')),
    error,
  );
  void refresh();
  return h('section', { class: 'card', 'aria-labelledby': 'users-title' }, h('h2', { id: 'users-title' }, 'Users'), list, listError, form);
}

/** A user's sites in its row, with a form to change them: none ticked is every site. */
function userSites(ctx: Admin, user: User): HTMLElement {
  const shown = h('span', {}, sitesText(user.sites));
  const sites = siteChoices(ctx, `sites-${user.id}`, user.sites);
  const error = h('p', { class: 'error field-error', role: 'alert' });
  const form = h(
    'form',
    {
      class: 'row-edit',
      onsubmit: (e) => {
        e.preventDefault();
        void patchUser(ctx, user, { sites: sites.value() ?? null }, error, null, (saved) => {
          fill(shown, sitesText(saved.sites));
          panel.close();
          ctx.status(`${saved.email} now sees: ${sitesText(saved.sites)}.`);
        });
      },
    },
    sites.el,
    error,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save sites')),
  );
  const panel = disclosure('Edit sites', `Edit sites of ${user.email}`, form);
  return h('div', {}, h('div', { class: 'cell-actions' }, shown, panel.button), form);
}

/** The last cell of a user's row: a new password (which ends their sessions), and `remove`. */
function userActions(ctx: Admin, user: User, remove: HTMLElement): HTMLElement {
  const password = h('input', { type: 'password', name: 'new-password', required: true, minlength: 10, autocomplete: 'new-password' });
  const error = h('p', { class: 'error field-error', role: 'alert', id: uid('error') });
  const done = h('p', { class: 'note' });
  const passwordField = field('New password', password, 'at least 10 characters; their sessions end');
  passwordField.append(error);
  password.setAttribute('aria-describedby', `${password.getAttribute('aria-describedby')} ${error.id}`);
  // The API checks the password, and its refusal shows under the field: no browser bubble.
  const form = h(
    'form',
    {
      class: 'row-edit',
      novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        fill(done);
        void patchUser(ctx, user, { password: password.value }, error, password, () => {
          password.value = '';
          const message = `Password of ${user.email} changed: their sessions have ended, and they sign in with the new one.`;
          fill(done, message);
          ctx.status(message);
        });
      },
    },
    // Whose password it is, for a password manager (else it may take it for the admin's own).
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: user.email, readonly: true, hidden: true }),
    passwordField,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save password')),
    done,
  );
  const panel = disclosure('Set password', `Set password for ${user.email}`, form);
  return h('div', {}, h('div', { class: 'cell-actions' }, panel.button, remove), form);
}

/** PATCHes a user from its row; a refusal shows in `error`, beside the field, and `control` takes the focus. */
async function patchUser(ctx: Admin, user: User, patch: Parameters<typeof api.updateUser>[1], error: HTMLElement, control: HTMLElement | null, saved: (user: User) => void): Promise<void> {
  fill(error);
  control?.removeAttribute('aria-invalid');
  try {
    saved(await api.updateUser(user.id, patch));
    ctx.audited();
  } catch (err) {
    if (isUnauthorized(ctx, err)) return;
    fill(error, err instanceof Error ? err.message : String(err));
    control?.setAttribute('aria-invalid', 'true');
    control?.focus();
  }
}

/** A button showing and hiding `panel` (kept hidden until then); opening it focuses the panel's first control. */
function disclosure(text: string, label: string, panel: HTMLElement): { button: HTMLButtonElement; close(): void } {
  panel.id = uid('panel');
  panel.hidden = true;
  const toggle = (open: boolean) => {
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    if (open) panel.querySelector<HTMLElement>('input, button')?.focus();
  };
  const button = h('button', {
    type: 'button',
    class: 'secondary',
    'aria-label': label,
    'aria-expanded': 'false',
    'aria-controls': panel.id,
    onclick: () => toggle(panel.hidden),
  }, text);
  return {
    button,
    close: () => {
      toggle(false);
      button.focus();
    },
  };
}

function keysSection(ctx: Admin): HTMLElement {
  const list = h('div', { 'aria-busy': 'true' });
  const listError = h('p', { class: 'error', role: 'alert' });
  const created = h('div', {});
  const name = h('input', { name: 'key-name', required: true, maxlength: 100, placeholder: 'CRM sync', autocomplete: 'off' });
  const scopes = KEY_SCOPES.map((scope) => h('input', { type: 'checkbox', name: 'key-scope', value: scope, checked: scope === 'reports:read' }));
  const sites = siteChoices(ctx, 'key-sites');
  const error = h('p', { class: 'error', role: 'alert' });

  const refresh = () => loadInto(ctx, list, api.keys(), (keys: ApiKey[]) =>
    keys.length
      ? table('keys', 3, ['Name', 'Scopes', 'Sites', 'Created (UTC)', 'Last used (UTC)', ''], keys.map((key) => [
          key.name,
          key.scopes.join(', '),
          sitesText(key.sites),
          utcTime(key.created_at),
          key.last_used_at ? utcTime(key.last_used_at) : 'Never',
          h('button', {
            type: 'button',
            class: 'secondary danger',
            'aria-label': `Revoke the key ${key.name}`,
            onclick: () => confirm(`Revoke the key “${key.name}”? Whatever uses it is refused from now on.`) && void act(ctx, listError, async () => {
              await api.deleteKey(key.id);
              fill(created);
              ctx.status(`Key “${key.name}” revoked.`);
            }, refresh),
          }, 'Revoke'),
        ]))
      : h('p', { class: 'muted' }, 'No API keys.'));

  const form = h(
    'form',
    {
      'aria-labelledby': 'add-key-title',
      onsubmit: (e) => {
        e.preventDefault();
        fill(created);
        const picked = scopes.filter((box) => box.checked).map((box) => box.value as KeyScope);
        if (!picked.length) return fill(error, 'Tick at least one scope.');
        void act(ctx, error, async () => {
          const chosen = sites.value();
          const key = await api.createKey({ name: name.value.trim(), scopes: picked, ...(chosen && { sites: chosen }) });
          form.reset();
          fill(created, secretBox('key', `Copy the key “${key.name}” now`, key.key,
            'It is shown only this once: Funnelbeam keeps a hash of it. Send it as Authorization: Bearer <key>.'));
          ctx.status(`Key “${key.name}” created.`);
        }, refresh);
      },
    },
    h('h3', { id: 'add-key-title' }, 'Create a key'),
    field('Name', name, 'what uses it, to know it again'),
    h('fieldset', { class: 'choices' }, h('legend', {}, 'Scopes'), ...scopes.map((box) => choice(box, box.value))),
    sites.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create key')),
    error,
  );
  void refresh();
  return h('section', { class: 'card', 'aria-labelledby': 'keys-title' }, h('h2', { id: 'keys-title' }, 'API keys'), list, listError, created, form);
}

function sharesSection(ctx: Admin, site: Site): HTMLElement {
  const { funnels } = ctx.state;
  const list = h('div', { 'aria-busy': 'true' });
  const listError = h('p', { class: 'error', role: 'alert' });
  const created = h('div', {});
  const funnel = select(funnels.map((f) => [f.id, f.name]), ctx.state.funnelId, { name: 'share-funnel' });
  const password = h('input', { type: 'password', name: 'share-password', minlength: 10, autocomplete: 'new-password' });
  const error = h('p', { class: 'error', role: 'alert' });
  const funnelName = (id: string) => funnels.find((f) => f.id === id)?.name ?? id;

  const refresh = () => loadInto(ctx, list, api.shares(site.domain), (shares: Share[]) =>
    shares.length
      ? table('shares', 2, ['Funnel', 'Password', 'Created (UTC)', ''], shares.map((share) => [
          funnelName(share.funnel),
          share.has_password ? 'Yes' : 'No',
          utcTime(share.created_at),
          h('button', {
            type: 'button',
            class: 'secondary danger',
            'aria-label': `Revoke the link to ${funnelName(share.funnel)} made ${utcTime(share.created_at)}`,
            onclick: () => confirm(`Revoke this link to “${funnelName(share.funnel)}”? It stops opening at once.`) && void act(ctx, listError, async () => {
              await api.deleteShare(site.domain, share.id);
              fill(created);
              ctx.status('Link revoked.');
            }, refresh),
          }, 'Revoke'),
        ]))
      : h('p', { class: 'muted' }, 'No shared links.'));

  const form = h(
    'form',
    {
      'aria-labelledby': 'add-share-title',
      onsubmit: (e) => {
        e.preventDefault();
        fill(created);
        void act(ctx, error, async () => {
          const share = await api.createShare(site.domain, { funnel: funnel.value, ...(password.value && { password: password.value }) });
          password.value = '';
          // The collector gives the path; the link to send is absolute, on this collector.
          const url = new URL(share.url, location.origin);
          if (url.origin !== location.origin) throw new Error(`Unexpected link from the collector: ${share.url}`);
          fill(created, secretBox('share', `Copy the link to “${funnelName(share.funnel)}” now`, url.href,
            `It is shown only this once. Whoever has it sees this funnel’s report${share.has_password ? ' once they enter the password' : ''}, and nothing else.`));
          ctx.status('Link created.');
        }, refresh);
      },
    },
    h('h3', { id: 'add-share-title' }, 'Share a funnel'),
    funnels.length
      ? h('div', { class: 'row' }, field('Funnel', funnel), field('Password', password, 'optional, at least 10 characters; whoever opens the link must enter it'))
      : h('p', { class: 'muted' }, 'This site has no funnel to share yet.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', disabled: !funnels.length }, 'Create link')),
    error,
  );
  void refresh();
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'shares-title' },
    h('h2', { id: 'shares-title' }, 'Shared links of ', site.domain),
    h('p', { class: 'hint' }, 'A link opens one funnel’s report, read-only, without signing in.'),
    list,
    listError,
    created,
    form,
  );
}

function auditSection(ctx: AdminContext): { el: HTMLElement; reload(): void } {
  const body = h('div', { 'aria-busy': 'true' });
  let entries: AuditEntry[] = [];
  let latest = 0;
  /** The newest entries, or (`before`) the page older than those shown. */
  async function load(before?: number): Promise<void> {
    const call = ++latest;
    body.setAttribute('aria-busy', 'true');
    try {
      const page = await api.audit(before);
      if (call !== latest) return;
      entries = before ? [...entries, ...page.entries] : page.entries;
      fill(
        body,
        entries.length
          ? table('audit', 5, ['Time (UTC)', 'Who', 'Action', 'Site', 'Target'], entries.map((entry) => [
              utcTime(entry.at, true),
              entry.actor,
              entry.action,
              entry.site ?? '–',
              entry.target ?? '–',
            ]))
          : h('p', { class: 'muted' }, 'Nothing recorded yet.'),
        page.next_before !== null && h('div', { class: 'actions pager' }, h('button', { type: 'button', class: 'secondary', onclick: () => void load(page.next_before ?? undefined) }, 'Show older')),
      );
    } catch (error) {
      if (call === latest && !isUnauthorized(ctx, error)) fill(body, h('p', { class: 'error' }, errorText(error)));
    } finally {
      if (call === latest) body.setAttribute('aria-busy', 'false');
    }
  }
  void load();
  return {
    el: h('section', { class: 'card', 'aria-labelledby': 'audit-title' }, h('h2', { id: 'audit-title' }, 'Audit log'), h('p', { class: 'hint' }, 'Who changed what, newest first.'), body),
    reload: () => void load(),
  };
}

/** Fills `target` with what `render` makes of the answer, or with the error (a 401 ends the session). */
async function loadInto<T>(ctx: AdminContext, target: HTMLElement, pending: Promise<T>, render: (data: T) => Child | Child[]): Promise<void> {
  target.setAttribute('aria-busy', 'true');
  try {
    const made = render(await pending);
    fill(target, ...(Array.isArray(made) ? made : [made]));
  } catch (error) {
    if (isUnauthorized(ctx, error)) return;
    fill(target, h('p', { class: 'error' }, errorText(error)));
  } finally {
    target.setAttribute('aria-busy', 'false');
  }
}

/** Makes a change, then shows the list as it is now (a refused change too); a refusal shows in `error`. */
async function act(ctx: Admin, error: HTMLElement, change: () => Promise<void>, refresh: () => Promise<void>): Promise<void> {
  fill(error);
  try {
    await change();
    ctx.audited();
  } catch (err) {
    if (isUnauthorized(ctx, err)) return;
    fill(error, errorText(err));
  }
  await refresh();
}

const isUnauthorized = (ctx: AdminContext, error: unknown): boolean => {
  if (!(error instanceof ApiError && error.status === 401)) return false;
  ctx.fail(error);
  return true;
};

const errorText = (error: unknown): string => {
  const err = error as { message?: string; field?: string | null };
  return `${err.field && err.field !== '(body)' ? `${err.field}: ` : ''}${err.message ?? String(error)}`;
};

/**
 * The sites a user or key is limited to: none ticked is every site, those added later too.
 * `ticked`: the current limit, whose sites stay offered even when this admin cannot see them.
 */
function siteChoices(ctx: AdminContext, name: string, ticked: string[] | null = null): { el: HTMLElement; value(): string[] | undefined } {
  const domains = new Set([...ctx.state.sites.map((site) => site.domain), ...(ticked ?? [])]);
  const boxes = [...domains].map((domain) => h('input', { type: 'checkbox', name, value: domain, checked: !!ticked?.includes(domain) }));
  return {
    el: h('fieldset', { class: 'choices' }, h('legend', {}, 'Sites'), ...boxes.map((box) => choice(box, box.value)), h('small', { class: 'hint' }, 'none ticked: every site, and those added later')),
    value: () => {
      const picked = boxes.filter((box) => box.checked).map((box) => box.value);
      return picked.length ? picked : undefined;
    },
  };
}

function choice(box: HTMLInputElement, text: string): HTMLElement {
  box.id = uid('c');
  return h('span', { class: 'choice' }, box, h('label', { for: box.id }, text));
}

/** A secret shown once (a new key, a shared link): selected, with a button to copy it. */
function secretBox(kind: string, title: string, value: string, note: string): HTMLElement {
  const box = h('input', { readonly: true, value, 'aria-label': title, spellcheck: 'false', 'data-secret': kind });
  const copied = h('span', { class: 'muted', role: 'status' });
  const section = h(
    'section',
    { class: 'secret', role: 'region', 'aria-label': title },
    h('h3', {}, title),
    h('p', {}, note),
    h(
      'div',
      { class: 'actions' },
      box,
      h('button', {
        type: 'button',
        onclick: async () => {
          box.select();
          try {
            await navigator.clipboard.writeText(value);
            fill(copied, 'Copied.');
          } catch {
            fill(copied, 'Selected: press Ctrl+C (⌘C) to copy.');
          }
        },
      }, 'Copy'),
      kind === 'share' && h('a', { href: value, target: '_blank', rel: 'noopener' }, 'Open it'),
      copied,
    ),
  );
  queueMicrotask(() => box.select());
  return section;
}
