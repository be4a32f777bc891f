// Site settings: the origins allowed to send events, the query parameters kept in URLs, the
// script tag to paste, the CRM connectors; and a new site.
import { api, type Site } from './api.js';
import { copyButton, field, fill, h } from './dom.js';
import { connectorsSection } from './integrations.js';

export interface SettingsContext {
  /** Null before the first site exists: only the form to add one. */
  site: Site | null;
  status(message: string): void;
  fail(error: unknown): void;
  siteSaved(site: Site): void;
}

export function settingsView(ctx: SettingsContext): HTMLElement {
  const lines = (text: string) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

  const addForm = newSiteForm(ctx, lines);
  if (!ctx.site) return h('div', { class: 'settings' }, addForm);
  const site = ctx.site;
  const origins = h('textarea', { name: 'origins', rows: 4, spellcheck: 'false' });
  origins.value = site.origins.join('\n');
  const params = h('input', { name: 'allowed_params', value: site.allowed_params.join(', '), autocomplete: 'off', spellcheck: 'false' });
  const siteError = h('p', { class: 'error', role: 'alert' });
  const siteForm = h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'site-title',
      onsubmit: async (e) => {
        e.preventDefault();
        fill(siteError);
        try {
          const saved = await api.updateSite(site.domain, { origins: lines(origins.value), allowed_params: lines(params.value) });
          ctx.status(`Settings of ${saved.domain} saved.`);
          ctx.siteSaved(saved);
        } catch (error) {
          report(ctx, siteError, error);
        }
      },
    },
    h('h2', { id: 'site-title' }, 'Settings of ', site.domain),
    field('Allowed origins', origins, 'one per line, such as https://shop.example.com: pages there may send events'),
    field('Kept query parameters', params, 'comma separated; utm_* are always kept, every other parameter is dropped'),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save settings')),
    siteError,
  );

  const tag = `<script defer data-site="${site.domain}" src="${location.origin}/f.js"></script>`;
  const tagBox = h('textarea', { name: 'script-tag', rows: 3, readonly: true, spellcheck: 'false' });
  tagBox.value = tag;
  const snippet = h(
    'section',
    { class: 'card', 'aria-labelledby': 'tag-title' },
    h('h2', { id: 'tag-title' }, 'Script tag'),
    h('p', {}, 'Paste it into the <head> of every page of ', site.domain, '.'),
    field('Script tag to copy', tagBox),
    h('div', { class: 'actions' }, ...copyButton('Copy script tag', tagBox)),
  );

  return h('div', { class: 'settings' }, siteForm, snippet, connectorsSection({ site, status: ctx.status, fail: ctx.fail }), addForm);
}

function newSiteForm(ctx: SettingsContext, lines: (text: string) => string[]): HTMLElement {
  const domain = h('input', { name: 'domain', required: true, placeholder: 'shop.example.com', autocomplete: 'off', spellcheck: 'false' });
  const newOrigins = h('input', { name: 'new-origins', placeholder: 'https://shop.example.com', autocomplete: 'off', spellcheck: 'false' });
  const addError = h('p', { class: 'error', role: 'alert' });
  return h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'add-title',
      onsubmit: async (e) => {
        e.preventDefault();
        fill(addError);
        try {
          const origins = lines(newOrigins.value);
          const created = await api.createSite(domain.value.trim().toLowerCase(), origins.length ? origins : [`https://${domain.value.trim().toLowerCase()}`]);
          ctx.status(`Site ${created.domain} added.`);
          ctx.siteSaved(created);
        } catch (error) {
          report(ctx, addError, error);
        }
      },
    },
    h('h2', { id: 'add-title' }, 'Add a site'),
    h('div', { class: 'row' }, field('Domain', domain), field('Origins', newOrigins, 'optional; default https://<domain>')),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add site')),
    addError,
  );
}

/** A refused token ends the session; any other error shows beside its form. */
function report(ctx: SettingsContext, target: HTMLElement, error: unknown): void {
  const err = error as { message?: string; status?: number };
  if (err.status === 401) ctx.fail(error);
  else fill(target, err.message ?? String(error));
}
