// CRM connectors against local stand-ins that speak HubSpot's and Pipedrive's documented REST
// shapes: the exact requests (paths, auth, bodies), no duplicate contact on a retry, 429/500
// retried and a 401 pausing the connector (shown in its settings), inbound webhooks verified and
// applied once, and the e-mail gone from the database and its WAL once delivered.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../../test-support/collector.js';
import { startHubSpotStub, hubspotPropertyChangeEvent, hubspotSignedDelivery, type HubSpotStub } from '../../../test-support/hubspotStub.js';
import { basicAuth, pipedriveDealEvent, pipedriveLeadConversionEvents, startPipedriveStub, type PipedriveStub } from '../../../test-support/pipedriveStub.js';
import { waitFor } from '../../../test-support/webhookReceiver.js';

const SITE = 'shop.example.com';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const HUBSPOT = { access_token: 'hubspot-test-token', client_secret: 'hubspot-client-secret' };
const PIPEDRIVE = { api_token: 'pipedrive-test-token', webhook_user: 'funnelbeam', webhook_password: 'a-long-webhook-password' };

let collector: RunningCollector;
let hubspot: HubSpotStub;
let pipedrive: PipedriveStub;
let serial = 0;

async function json<T = Record<string, unknown>>(reply: Response | Promise<Response>): Promise<T> {
  return (await (await reply).json()) as T;
}

/** A visitor's signup naming a lead (with an e-mail for the CRMs), then `views` deal views (10 points each; MQL at 20). */
async function signup(lead: string, email: string | null, views = 0): Promise<void> {
  const visitor = `v-${++serial}`;
  const now = Date.now();
  const events = [
    { name: 'signup', lead, ...(email ? { email } : {}) },
    ...Array.from({ length: views }, () => ({ name: 'deal_view' })),
  ].map((e, i) => ({ site: SITE, url: `https://${SITE}/deals/spa?utm_source=newsletter&utm_medium=email&utm_campaign=spring`, visitor, session: `s-${visitor}`, id: `${visitor}-${i}`, ts: now + i, ...e }));
  const reply = await fetch(`${collector.url}/api/event`, { method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': UA }, body: JSON.stringify(events) });
  expect(reply.status).toBe(202);
}

const stageOf = async (lead: string) => (await json<{ stage: string }>(collector.admin(`/api/sites/${SITE}/leads/${lead}`))).stage;

beforeAll(async () => {
  [hubspot, pipedrive] = await Promise.all([startHubSpotStub(), startPipedriveStub()]);
  collector = await startCollector({
    crmApiUrls: { hubspot: hubspot.url, pipedrive: pipedrive.url },
    webhooks: { allowPrivateAddresses: true, retryBaseMs: 50, pollMs: 20 },
  });
  expect((await collector.admin('/api/sites', { body: { domain: SITE } })).status).toBe(201);
  expect((await collector.admin(`/api/sites/${SITE}/scoring`, { method: 'PUT', body: { threshold: 20, rules: [{ points: 10, event: 'deal_view' }] } })).status).toBe(200);
});

afterAll(async () => {
  await collector?.close();
  await hubspot?.close();
  await pipedrive?.close();
});

describe('setting up a connector', () => {
  it('refuses bad settings with the field, shows secrets masked, and is removed on DELETE', async () => {
    for (const [body, field] of [
      [{ client_secret: 'hubspot-client-secret' }, 'access_token'],
      [{ ...HUBSPOT, stages: { mql: 'Not A Stage' } }, 'stages.mql'],
      [{ ...HUBSPOT, stages: { nope: 'customer' } }, 'stages.nope'],
      [{ ...HUBSPOT, stages: { sql: 'customer', won: 'customer' } }, 'stages'],
      [{ ...HUBSPOT, extra: 1 }, 'extra'],
    ] as const) {
      const reply = await collector.admin(`/api/sites/${SITE}/integrations/hubspot`, { method: 'PUT', body });
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect((await json(reply)).field).toBe(field);
    }
    const bad = await collector.admin(`/api/sites/${SITE}/integrations/pipedrive`, { method: 'PUT', body: { ...PIPEDRIVE, webhook_password: 'short' } });
    expect((await json(bad)).field).toBe('webhook_password');
    expect((await collector.admin(`/api/sites/${SITE}/integrations/pipedrive`)).status).toBe(404);

    const put = await collector.admin(`/api/sites/${SITE}/integrations/pipedrive`, { method: 'PUT', body: PIPEDRIVE });
    expect(put.status).toBe(201);
    const shown = await json(collector.admin(`/api/sites/${SITE}/integrations/pipedrive`));
    expect(shown).toEqual({ api_token: '••••oken', webhook_user: 'funnelbeam', webhook_password: '••••word', last_delivery: null });
    expect(JSON.stringify(shown)).not.toContain(PIPEDRIVE.api_token);
    expect((await collector.admin(`/api/sites/${SITE}/integrations/pipedrive`, { method: 'DELETE' })).status).toBe(204);
    expect((await collector.admin(`/api/sites/${SITE}/integrations/pipedrive`)).status).toBe(404);
  });
});

describe('HubSpot', () => {
  beforeAll(async () => {
    expect((await collector.admin(`/api/sites/${SITE}/integrations/hubspot`, { method: 'PUT', body: HUBSPOT })).status).toBe(201);
  });

  it('creates the contact once, by e-mail, with our properties, then sets its lifecycle stage at MQL', async () => {
    hubspot.requests.length = 0;
    await signup('crm-ana', 'ana@example.com', 2);
    await waitFor(() => [...hubspot.contacts.values()].find((c) => c.properties.lifecyclestage === 'marketingqualifiedlead'));
    const contacts = [...hubspot.contacts.values()].filter((c) => c.properties.email === 'ana@example.com');
    expect(contacts).toHaveLength(1);
    expect(contacts[0].properties).toMatchObject({
      funnelbeam_lead_id: 'crm-ana', funnelbeam_score: '20', funnelbeam_source: 'newsletter', funnelbeam_medium: 'email',
      funnelbeam_campaign: 'spring', funnelbeam_landing_page: '/deals/spa', lifecyclestage: 'marketingqualifiedlead',
    });
    for (const request of hubspot.requests) expect(request.headers.authorization).toBe('Bearer hubspot-test-token');
    const calls = hubspot.requests.map((r) => `${r.method} ${r.path}`);
    // Our six properties, looked up and created once.
    expect(calls.filter((c) => c === 'POST /crm/v3/properties/contacts')).toHaveLength(6);
    expect([...hubspot.properties.keys()].sort()).toEqual(['funnelbeam_campaign', 'funnelbeam_landing_page', 'funnelbeam_lead_id', 'funnelbeam_medium', 'funnelbeam_score', 'funnelbeam_source']);
    // The new lead: searched by e-mail, created; the MQL: an update of the contact by its id.
    const contactCalls = calls.filter((c) => c.includes('/objects/contacts'));
    expect(contactCalls).toEqual(['POST /crm/v3/objects/contacts/search', 'POST /crm/v3/objects/contacts', `PATCH /crm/v3/objects/contacts/${contacts[0].id}`]);
    const search = hubspot.requests.find((r) => r.path === '/crm/v3/objects/contacts/search')!;
    expect(search.body).toMatchObject({ filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'ana@example.com' }] }] });
    const created = hubspot.requests.find((r) => r.method === 'POST' && r.path === '/crm/v3/objects/contacts')!;
    expect(created.body).toEqual({ properties: expect.objectContaining({ email: 'ana@example.com', funnelbeam_lead_id: 'crm-ana' }) });
    expect((created.body as { properties: Record<string, string> }).properties.lifecyclestage).toBeUndefined();
  });

  it('retries a 429 (as Retry-After says) and a 500 without making a second contact', async () => {
    hubspot.requests.length = 0;
    hubspot.failNext({ status: 429, headers: { 'retry-after': '0' }, body: { status: 'error', category: 'RATE_LIMITS' } }, { status: 500, body: { status: 'error' } });
    await signup('crm-bo', 'bo@example.com');
    await waitFor(() => [...hubspot.contacts.values()].find((c) => c.properties.email === 'bo@example.com'));
    expect([...hubspot.contacts.values()].filter((c) => c.properties.email === 'bo@example.com')).toHaveLength(1);
    expect(hubspot.requests.filter((r) => r.path === '/crm/v3/objects/contacts/search').length).toBeGreaterThanOrEqual(2);
    expect((await json<{ last_delivery: { outcome: string } }>(collector.admin(`/api/sites/${SITE}/integrations/hubspot`))).last_delivery.outcome).toBe('delivered');
  });

  it('pauses on a 401, shows why, and goes on once the token is replaced', async () => {
    hubspot.setToken('rotated-hubspot-token');
    await signup('crm-cy', 'cy@example.com');
    const paused = await waitFor(async () => {
      const shown = await json<{ last_delivery: { paused: boolean; error: string } | null }>(collector.admin(`/api/sites/${SITE}/integrations/hubspot`));
      return shown.last_delivery?.paused ? shown.last_delivery : undefined;
    });
    expect(paused.error).toContain('HTTP 401');
    expect([...hubspot.contacts.values()].some((c) => c.properties.email === 'cy@example.com')).toBe(false);
    const before = hubspot.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hubspot.requests.length, 'nothing is sent while paused').toBe(before);
    expect((await collector.admin(`/api/sites/${SITE}/integrations/hubspot`, { method: 'PUT', body: { ...HUBSPOT, access_token: 'rotated-hubspot-token' } })).status).toBe(200);
    await waitFor(() => [...hubspot.contacts.values()].find((c) => c.properties.email === 'cy@example.com'));
  });

  it('sends a test on demand, which says whether the token works', async () => {
    const tested = await json<{ last_delivery: { outcome: string } }>(collector.admin(`/api/sites/${SITE}/integrations/hubspot/test`, { method: 'POST', body: {} }));
    expect(tested.last_delivery.outcome).toBe('delivered');
    hubspot.setToken('yet-another-token');
    const refused = await json<{ last_delivery: { outcome: string; error: string } }>(collector.admin(`/api/sites/${SITE}/integrations/hubspot/test`, { method: 'POST', body: {} }));
    expect(refused.last_delivery).toMatchObject({ outcome: 'paused', error: expect.stringContaining('401') });
    expect((await collector.admin(`/api/sites/${SITE}/integrations/hubspot`, { method: 'PUT', body: { ...HUBSPOT, access_token: 'yet-another-token' } })).status).toBe(200);
  });

  it('moves our lead on a signed lifecycle change, and on nothing else', async () => {
    const contact = [...hubspot.contacts.values()].find((c) => c.properties.email === 'ana@example.com')!;
    const url = `${collector.url}/api/sites/${SITE}/integrations/hubspot/events`;
    const events = hubspotPropertyChangeEvent({ objectId: contact.id, propertyName: 'lifecyclestage', propertyValue: 'salesqualifiedlead' });
    const post = (delivery: { body: string; headers: Record<string, string> }) => fetch(url, { method: 'POST', headers: delivery.headers, body: delivery.body });

    const wrongSecret = hubspotSignedDelivery('not-the-secret', url, events);
    expect((await post(wrongSecret)).status).toBe(401);
    const stale = hubspotSignedDelivery(HUBSPOT.client_secret, url, events, Date.now() - 6 * 60_000);
    expect((await post(stale)).status).toBe(401);
    const tampered = hubspotSignedDelivery(HUBSPOT.client_secret, url, events);
    expect((await post({ ...tampered, body: tampered.body.replace('salesqualifiedlead', 'customer') })).status).toBe(401);
    expect(await stageOf('crm-ana')).toBe('mql');

    const signed = hubspotSignedDelivery(HUBSPOT.client_secret, url, events);
    expect(await json(post(signed))).toEqual({ moved: 1 });
    // From MQL to SQL, through SAL (the sales side moves one stage at a time).
    const lead = await json<{ stage: string; stages: { stage: string }[] }>(collector.admin(`/api/sites/${SITE}/leads/crm-ana`));
    expect(lead.stage).toBe('sql');
    // The same webhook again (HubSpot retries): nothing moves twice.
    expect(await json(post(hubspotSignedDelivery(HUBSPOT.client_secret, url, events)))).toEqual({ moved: 0 });
    const audit = await json<{ entries: { actor: string; action: string; target: string }[] }>(collector.admin('/api/audit'));
    expect(audit.entries[0]).toMatchObject({ actor: 'crm:hubspot', action: 'lead.stage', target: 'crm-ana' });
  });
});

describe('Pipedrive', () => {
  beforeAll(async () => {
    expect((await collector.admin(`/api/sites/${SITE}/integrations/pipedrive`, { method: 'PUT', body: PIPEDRIVE })).status).toBe(201);
  });

  it('makes the person and the lead once, with a note per change, and keeps their ids', async () => {
    pipedrive.requests.length = 0;
    pipedrive.failNext({ status: 500, body: { success: false, error: 'Internal' } });
    await signup('crm-dee', 'dee@example.com', 2);
    await waitFor(() => pipedrive.notes.size >= 2 ? true : undefined);
    const people = [...pipedrive.persons.values()].filter((p) => p.primary_email === 'dee@example.com');
    expect(people).toHaveLength(1);
    const leads = [...pipedrive.leads.values()].filter((l) => l.person_id === people[0].id);
    expect(leads).toHaveLength(1);
    expect(leads[0].title).toBe('crm-dee (Funnelbeam)');
    const notes = [...pipedrive.notes.values()].filter((n) => n.lead_id === leads[0].id).map((n) => n.content);
    expect(notes).toEqual([
      'Funnelbeam: new lead · score 0 · source Email / newsletter / email · campaign spring · landing page /deals/spa',
      'Funnelbeam: stage MQL · score 20 · source Email / newsletter / email · campaign spring · landing page /deals/spa',
    ]);
    for (const request of pipedrive.requests) {
      expect(new URL(request.path, 'http://x').searchParams.get('api_token')).toBe('pipedrive-test-token');
    }
  });

  it('moves our lead on a deal won (with its value) or lost, behind basic auth, once', async () => {
    const person = [...pipedrive.persons.values()].find((p) => p.primary_email === 'dee@example.com')!;
    const url = `${collector.url}/api/sites/${SITE}/integrations/pipedrive/events`;
    const post = (body: unknown, authorization?: string) => fetch(url, {
      method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body: JSON.stringify(body),
    });
    const won = pipedriveDealEvent({ version: 1, dealId: 7, status: 'won', value: 490, currency: 'EUR', personId: person.id });
    expect((await post(won)).status).toBe(401);
    expect((await post(won, basicAuth('funnelbeam', 'wrong password'))).status).toBe(401);
    expect(await stageOf('crm-dee')).toBe('mql');
    expect(await json(post(won, basicAuth(PIPEDRIVE.webhook_user, PIPEDRIVE.webhook_password)))).toEqual({ moved: 1 });
    const lead = await json<{ stage: string; won: { amount: number; currency: string } }>(collector.admin(`/api/sites/${SITE}/leads/crm-dee`));
    expect(lead).toMatchObject({ stage: 'won', won: { amount: 490, currency: 'EUR' } });
    expect(await json(post(won, basicAuth(PIPEDRIVE.webhook_user, PIPEDRIVE.webhook_password)))).toEqual({ moved: 0 });
  });

  it('takes a lead turned into a deal (v2 webhooks) as SQL', async () => {
    await signup('crm-ed', 'ed@example.com', 2);
    const lead = await waitFor(() => [...pipedrive.leads.values()].find((l) => l.title === 'crm-ed (Funnelbeam)'));
    const { leadDeleted, dealCreated } = pipedriveLeadConversionEvents({ leadId: lead.id, dealId: 8, title: lead.title, personId: lead.person_id });
    const auth = basicAuth(PIPEDRIVE.webhook_user, PIPEDRIVE.webhook_password);
    for (const body of [dealCreated, leadDeleted]) {
      const reply = await fetch(`${collector.url}/api/sites/${SITE}/integrations/pipedrive/events`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify(body),
      });
      expect(reply.status).toBe(200);
    }
    expect(await stageOf('crm-ed')).toBe('sql');
  });
});

describe('the e-mail', () => {
  it('is kept only until every CRM has it: then it is nowhere in the database or its WAL', async () => {
    await signup('crm-fay', 'fay.secret@example.com');
    await waitFor(() => [...hubspot.contacts.values()].find((c) => c.properties.email === 'fay.secret@example.com'));
    await waitFor(() => [...pipedrive.persons.values()].find((p) => p.primary_email === 'fay.secret@example.com'));
    const scan = () => Buffer.concat([collector.dbFile, `${collector.dbFile}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
    await waitFor(() => (scan().includes('fay.secret@example.com') ? undefined : true));
    expect(scan().includes('crm-fay')).toBe(true); // the scan does read the lead's rows
    // Nor in the export.
    const today = new Date().toISOString().slice(0, 10);
    expect(await (await collector.admin(`/api/sites/${SITE}/export?from=${today}&to=${today}`)).text()).not.toContain('fay.secret@example.com');
  });

  it('is not kept at all for a site without a CRM connector', async () => {
    const other = 'plain.example.com';
    expect((await collector.admin('/api/sites', { body: { domain: other } })).status).toBe(201);
    const reply = await fetch(`${collector.url}/api/event`, {
      method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': UA },
      body: JSON.stringify({ site: other, name: 'signup', url: `https://${other}/`, lead: 'plain-1', email: 'never.kept@example.com' }),
    });
    expect(reply.status).toBe(202);
    const scan = Buffer.concat([collector.dbFile, `${collector.dbFile}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
    expect(scan.includes('never.kept@example.com')).toBe(false);
  });

  it('that is malformed gets a 400 naming it, and nothing is stored', async () => {
    const reply = await fetch(`${collector.url}/api/event`, {
      method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': UA },
      body: JSON.stringify({ site: SITE, name: 'signup', url: `https://${SITE}/`, lead: 'bad-mail', email: 'not an e-mail' }),
    });
    expect(reply.status).toBe(400);
    expect((await json(reply)).field).toBe('email');
  });
});
