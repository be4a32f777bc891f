// The CRM connectors of a site (Site settings, admin): one card per CRM to set it up, see how its
// last delivery (or test) went, send a test and remove it. Secrets are never shown back (GET masks
// them) nor put in a field: PUT takes the whole config, so saving asks for them again.
import { api, ApiError, DEFAULT_HUBSPOT_STAGES, type Crm, type CrmConnector, type CrmDelivery, type CrmSettings, type Site } from './api.js';
import { copyButton, field, fill, h, type Child } from './dom.js';
import { utcTime } from './format.js';

export interface ConnectorsContext {
  site: Site;
  status(message: string): void;
  fail(error: unknown): void;
}

/** One input of a connector's form, named as the API names its field. */
interface Control {
  key: string;
  label: string;
  hint: string;
  secret?: true;
  /** What it shows, from the connector as set up (null: not set up yet); a secret shows nothing. */
  value?(shown: CrmConnector[Crm] | null): string;
}

interface Spec<C extends Crm> {
  crm: C;
  name: string;
  /** What the token must be allowed to do. */
  access: string;
  /** Where the CRM's webhook is set up, and for which events. */
  webhook: string;
  controls: Control[];
  /** A group of its own under the controls (HubSpot's lifecycle stages). */
  group?: { legend: string; hint: string; controls: Control[] };
  settings(values: Record<string, string>, shown: CrmConnector[C] | null): CrmSettings[C];
}

/** The stages the form maps; others set through the API are kept as they are. */
const MAPPED_STAGES = [['mql', 'MQL'], ['sql', 'SQL'], ['won', 'Won']] as const;

const HUBSPOT: Spec<'hubspot'> = {
  crm: 'hubspot',
  name: 'HubSpot',
  access: 'A private app’s access token, with the scopes crm.objects.contacts.read, crm.objects.contacts.write, crm.schemas.contacts.read and crm.schemas.contacts.write.',
  webhook: 'In the private app’s Webhooks: this target URL, subscribed to the contact property change of lifecyclestage.',
  controls: [
    { key: 'access_token', label: 'Access token', secret: true, hint: 'the private app’s access token' },
    { key: 'client_secret', label: 'Client secret', secret: true, hint: 'the app’s client secret: it signs the webhooks HubSpot sends' },
  ],
  group: {
    legend: 'HubSpot lifecycle stages',
    hint: 'the internal value HubSpot gives each of our stages, such as marketingqualifiedlead; empty: not set',
    controls: MAPPED_STAGES.map(([stage, label]) => ({
      key: `stages.${stage}`,
      label,
      hint: '',
      value: (shown) => (shown ? (shown as CrmConnector['hubspot']).stages[stage] ?? '' : DEFAULT_HUBSPOT_STAGES[stage] ?? ''),
    })),
  },
  settings: (values, shown) => {
    const stages = { ...shown?.stages };
    for (const [stage] of MAPPED_STAGES) {
      delete stages[stage];
      if (values[`stages.${stage}`]) stages[stage] = values[`stages.${stage}`];
    }
    return { access_token: values.access_token!, client_secret: values.client_secret!, stages };
  },
};

const PIPEDRIVE: Spec<'pipedrive'> = {
  crm: 'pipedrive',
  name: 'Pipedrive',
  access: 'The API token of a Pipedrive user who can add persons, leads and notes (Personal preferences → API).',
  webhook: 'In Tools and apps → Webhooks: this endpoint URL, for deal added and updated and for lead deleted, with the webhook user and password below as its HTTP Auth.',
  controls: [
    { key: 'api_token', label: 'API token', secret: true, hint: 'the user’s personal API token' },
    { key: 'webhook_user', label: 'Webhook user', hint: 'the HTTP Auth user name Pipedrive’s webhooks send; no “:”', value: (shown) => (shown as CrmConnector['pipedrive'] | null)?.webhook_user ?? '' },
    { key: 'webhook_password', label: 'Webhook password', secret: true, hint: 'the HTTP Auth password Pipedrive’s webhooks send; at least 12 characters' },
  ],
  settings: (values) => ({ api_token: values.api_token!, webhook_user: values.webhook_user!, webhook_password: values.webhook_password! }),
};

export function connectorsSection(ctx: ConnectorsContext): HTMLElement {
  return h(
    'section',
    { class: 'connectors', 'aria-labelledby': 'crm-title' },
    h('h2', { id: 'crm-title' }, 'CRM connectors'),
    h('p', { class: 'hint' }, 'Each lead of ', ctx.site.domain, ' (with the e-mail a page sends with it) and each change of its stage go to the CRM; the CRM’s own stage changes come back through its webhook.'),
    connectorCard(ctx, HUBSPOT),
    connectorCard(ctx, PIPEDRIVE),
  );
}

function connectorCard<C extends Crm>(ctx: ConnectorsContext, spec: Spec<C>): HTMLElement {
  const { crm, name } = spec;
  const domain = ctx.site.domain;
  let shown: CrmConnector[C] | null = null;

  const summary = h('p', { 'data-summary': '' });
  const delivery = h('p', { class: 'delivery', role: 'status', 'data-delivery': '' });
  const error = h('p', { class: 'error', role: 'alert' });
  const controls = [...spec.controls, ...(spec.group?.controls ?? [])];
  const inputs = new Map<string, HTMLInputElement>();
  const fields = new Map<string, HTMLElement>();
  for (const control of controls) {
    const input = h('input', {
      name: `${crm}-${control.key.replace('.', '-')}`,
      type: control.secret ? 'password' : 'text',
      required: control.secret || control.key === 'webhook_user',
      autocomplete: 'off',
      spellcheck: 'false',
    });
    inputs.set(control.key, input);
    fields.set(control.key, field(control.label, input, control.hint || undefined));
  }
  const fieldsOf = (list: Control[]) => list.map((control) => fields.get(control.key));

  const url = h('input', { name: `${crm}-webhook-url`, readonly: true, spellcheck: 'false', value: `${location.origin}/api/sites/${encodeURIComponent(domain)}/integrations/${crm}/events` });
  const save = h('button', { type: 'submit' }, 'Save');
  const test = h('button', { type: 'button', class: 'secondary', onclick: () => void run(async () => {
    show(await api.testConnector(domain, crm));
    ctx.status(shown?.last_delivery?.outcome === 'delivered' ? `${name} accepted the token.` : `${name} test: see the connector’s status.`);
  }) }, 'Send a test');
  const remove = h('button', { type: 'button', class: 'secondary danger', onclick: () => confirm(`Remove the ${name} connector of ${domain}? Leads are no longer sent to ${name}, and its webhooks are refused.`) && void run(async () => {
    await api.deleteConnector(domain, crm);
    show(null);
    ctx.status(`${name} connector removed.`);
  }) }, 'Remove');
  const buttons = [save, test, remove];

  /** Shows the connector as the collector has it now; secret fields are emptied, never filled. */
  function show(connector: CrmConnector[C] | null): void {
    shown = connector;
    const view = connector as Record<string, unknown> | null;
    for (const control of controls) {
      const input = inputs.get(control.key)!;
      input.value = control.value?.(connector) ?? '';
      input.removeAttribute('aria-invalid');
      if (!control.secret) continue;
      const hint = fields.get(control.key)!.querySelector('.hint')!;
      fill(hint, view ? `set (${String(view[control.key])}); never shown back: enter it again, or a new one, to save a change` : control.hint);
    }
    fill(summary, view ? `Set up: leads of ${domain} go to ${name}.` : `Not set up: leads of ${domain} do not go to ${name}.`);
    summary.dataset.summary = view ? 'set' : 'none';
    fill(delivery, ...deliveryText(name, connector?.last_delivery ?? null, view !== null));
    delivery.dataset.outcome = connector?.last_delivery?.outcome ?? '';
    test.hidden = remove.hidden = !view;
  }

  async function run(action: () => Promise<void>): Promise<void> {
    fill(error);
    for (const button of buttons) button.disabled = true;
    try {
      await action();
    } catch (err) {
      report(err);
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  }

  /** A refused session ends it; a refused field is marked and named. */
  function report(err: unknown): void {
    if (err instanceof ApiError && err.status === 401) return ctx.fail(err);
    const { message, field: key } = err as { message?: string; field?: string | null };
    const control = controls.find((c) => c.key === key);
    const input = control && inputs.get(control.key);
    input?.setAttribute('aria-invalid', 'true');
    input?.focus();
    fill(error, control ? `${control.label}: ${message}` : message ?? String(err));
  }

  const form = h(
    'form',
    {
      class: 'card connector',
      'data-crm': crm,
      'aria-labelledby': `${crm}-title`,
      'aria-busy': 'true',
      onsubmit: (e) => {
        e.preventDefault();
        const values = Object.fromEntries([...inputs].map(([key, input]) => [key, input.value.trim()]));
        void run(async () => {
          const saved = await api.saveConnector(domain, crm, spec.settings(values, shown));
          show(saved);
          ctx.status(`${name} connector saved.`);
        });
      },
    },
    h('h3', { id: `${crm}-title` }, name),
    summary,
    delivery,
    h('p', { class: 'hint' }, spec.access),
    h('div', { class: 'row' }, ...fieldsOf(spec.controls)),
    spec.group && h('fieldset', { class: 'stages' }, h('legend', {}, spec.group.legend), h('div', { class: 'row' }, ...fieldsOf(spec.group.controls)), h('small', { class: 'hint' }, spec.group.hint)),
    field(`Webhook URL to set in ${name}`, url, spec.webhook),
    h('div', { class: 'actions' }, ...copyButton('Copy webhook URL', url)),
    h('div', { class: 'actions' }, ...buttons),
    error,
  );

  show(null);
  fill(summary, 'Loading…');
  delete summary.dataset.summary;
  api.connector(domain, crm)
    .then(show, (err: unknown) => {
      if (err instanceof ApiError && err.status === 404) return show(null);
      fill(summary);
      report(err);
    })
    .finally(() => form.setAttribute('aria-busy', 'false'));
  return form;
}

/** The last outcome as a sentence, then the CRM's error on a line of its own: text, however it reads. */
function deliveryText(name: string, last: CrmDelivery | null, setUp: boolean): Child[] {
  if (!setUp) return [];
  if (!last) return ['Nothing sent yet: send a test to check the token.'];
  const when = `${utcTime(last.at, true)} UTC`;
  const error = last.error && h('span', { class: 'crm-error', 'data-error': '' }, last.error);
  if (last.paused) return [`Paused: replace the token. ${name} refused it (${when}); leads wait, and go once a new token is saved.`, error];
  return [`Last delivery: ${last.outcome} (${when})`, error];
}
