// The CRM stand-ins that the connector integration tests talk to: each answers over real HTTP in
// the shapes the CRMs document, refuses bad credentials, and fails on demand; the webhook builders
// and HubSpot's v3 signature match what the docs and HubSpot's own SDK tests say.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hubspotPropertyChangeEvent,
  hubspotSignatureV3,
  hubspotSignedDelivery,
  startHubSpotStub,
  type HubSpotStub,
} from '../../test-support/hubspotStub.js';
import {
  basicAuth,
  pipedriveDealEvent,
  pipedriveLeadConversionEvents,
  startPipedriveStub,
  type PipedriveStub,
} from '../../test-support/pipedriveStub.js';

type Json = Record<string, any>;

async function call(base: string, method: string, path: string, init: { token?: string | null; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? 'hubspot-test-token'}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(base + path, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: (text ? JSON.parse(text) : null) as Json };
}

describe('HubSpot stub', () => {
  let hubspot: HubSpotStub;
  beforeAll(async () => {
    hubspot = await startHubSpotStub();
  });
  afterAll(() => hubspot.close());

  const hs = (method: string, path: string, init?: { token?: string | null; body?: unknown }) => call(hubspot.url, method, path, init);

  it('refuses a missing or wrong token with the INVALID_AUTHENTICATION body', async () => {
    for (const token of [null, 'wrong']) {
      const reply = await hs('GET', '/crm/v3/objects/contacts/1', { token });
      expect(reply.status).toBe(401);
      expect(reply.json).toMatchObject({ status: 'error', category: 'INVALID_AUTHENTICATION' });
      expect(reply.json.correlationId).toEqual(expect.any(String));
    }
  });

  it('creates a contact, finds it by email, and refuses a second one with the same email', async () => {
    const created = await hs('POST', '/crm/v3/objects/contacts', { body: { properties: { email: 'Ada@Example.com', firstname: 'Ada' } } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ id: '1', archived: false, properties: { email: 'ada@example.com', firstname: 'Ada', hs_object_id: '1' } });
    expect(created.json.createdAt).toEqual(created.json.properties.createdate);

    const search = await hs('POST', '/crm/v3/objects/contacts/search', {
      body: { filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'ADA@example.com' }] }] },
    });
    expect(search.status).toBe(200);
    expect(search.json.total).toBe(1);
    expect(search.json.results[0]).toMatchObject({ id: '1', properties: { email: 'ada@example.com', firstname: 'Ada', lastname: null } });

    const none = await hs('POST', '/crm/v3/objects/contacts/search', {
      body: { filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'nobody@example.com' }] }] },
    });
    expect(none.json).toEqual({ total: 0, results: [] });

    const again = await hs('POST', '/crm/v3/objects/contacts', { body: { properties: { email: 'ada@example.com' } } });
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ status: 'error', message: 'Contact already exists. Existing ID: 1', category: 'CONFLICT' });

    const second = await hs('POST', '/crm/v3/objects/contacts', { body: { properties: { email: 'grace@example.com' } } });
    expect(second.json.id).toBe('2');
  });

  it('patches by id and by email, merging properties, and answers 404 for unknown contacts', async () => {
    const patched = await hs('PATCH', '/crm/v3/objects/contacts/1', { body: { properties: { lastname: 'Lovelace' } } });
    expect(patched.status).toBe(200);
    expect(patched.json.properties).toMatchObject({ email: 'ada@example.com', firstname: 'Ada', lastname: 'Lovelace' });

    const byEmail = await hs('PATCH', `/crm/v3/objects/contacts/${encodeURIComponent('ada@example.com')}?idProperty=email`, {
      body: { properties: { lifecyclestage: 'lead' } },
    });
    expect(byEmail.status).toBe(200);
    expect(hubspot.contacts.get('1')?.properties).toMatchObject({ lastname: 'Lovelace', lifecyclestage: 'lead' });

    const got = await hs('GET', '/crm/v3/objects/contacts/ada@example.com?idProperty=email&properties=lifecyclestage');
    expect(got.json).toMatchObject({ id: '1', properties: { lifecyclestage: 'lead' } });
    expect((await hs('GET', '/crm/v3/objects/contacts/999')).status).toBe(404);
    expect((await hs('PATCH', '/crm/v3/objects/contacts/999', { body: { properties: { firstname: 'X' } } })).json.category).toBe('OBJECT_NOT_FOUND');
  });

  it('needs a custom property to be created before a contact can carry it', async () => {
    const early = await hs('PATCH', '/crm/v3/objects/contacts/1', { body: { properties: { funnelbeam_score: '40' } } });
    expect(early.status).toBe(400);
    expect(early.json.message).toContain('PROPERTY_DOESNT_EXIST');

    expect((await hs('GET', '/crm/v3/properties/contacts/funnelbeam_score')).status).toBe(404);
    const incomplete = await hs('POST', '/crm/v3/properties/contacts', { body: { name: 'funnelbeam_score', label: 'Funnelbeam score' } });
    expect(incomplete.status).toBe(400);
    expect(incomplete.json.errors.map((e: Json) => e.in)).toEqual(['type', 'fieldType', 'groupName']);

    const definition = { name: 'funnelbeam_score', label: 'Funnelbeam score', type: 'number', fieldType: 'number', groupName: 'contactinformation' };
    const created = await hs('POST', '/crm/v3/properties/contacts', { body: definition });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ ...definition, archived: false });
    expect(hubspot.properties.has('funnelbeam_score')).toBe(true);
    expect((await hs('GET', '/crm/v3/properties/contacts/funnelbeam_score')).json).toMatchObject(definition);
    expect((await hs('POST', '/crm/v3/properties/contacts', { body: definition })).status).toBe(409);

    const later = await hs('PATCH', '/crm/v3/objects/contacts/1', { body: { properties: { funnelbeam_score: 40 } } });
    expect(later.json.properties.funnelbeam_score).toBe('40');
  });

  it('plays queued failures (429 with Retry-After, then 500) before answering normally again', async () => {
    const before = hubspot.requests.length;
    hubspot.failNext(
      { status: 429, headers: { 'retry-after': '1' }, body: { status: 'error', message: 'You have reached your secondly limit.', category: 'RATE_LIMITS' } },
      { status: 500 },
    );
    const limited = await hs('GET', '/crm/v3/objects/contacts/1');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.json.category).toBe('RATE_LIMITS');
    expect((await hs('GET', '/crm/v3/objects/contacts/1')).status).toBe(500);
    expect((await hs('GET', '/crm/v3/objects/contacts/1')).status).toBe(200);

    const seen = hubspot.requests.slice(before);
    expect(seen.map((r) => `${r.method} ${r.path}`)).toEqual(Array(3).fill('GET /crm/v3/objects/contacts/1'));
    expect(seen[0].headers.authorization).toBe('Bearer hubspot-test-token');
  });

  it('records bodies as parsed JSON and follows a token change', async () => {
    await hs('POST', '/crm/v3/objects/contacts/search', { body: { filterGroups: [] } });
    expect(hubspot.requests.at(-1)?.body).toEqual({ filterGroups: [] });
    hubspot.setToken('rotated');
    expect((await hs('GET', '/crm/v3/objects/contacts/1')).status).toBe(401);
    expect((await hs('GET', '/crm/v3/objects/contacts/1', { token: 'rotated' })).status).toBe(200);
    hubspot.setToken('hubspot-test-token');
  });
});

describe('HubSpot webhook helpers', () => {
  it('signs v3 as HubSpot does: the fixed vector from HubSpot\'s Python and Ruby SDK tests', () => {
    // HubSpot's docs give worked examples for v1 and v2 only; hubspot-api-python's
    // tests/spec/utils/test_signature.py and hubspot-api-ruby's spec/helpers/signature_spec.rb pin this.
    const signature = hubspotSignatureV3('yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy', 'POST', 'https://www.example.com/webhook_uri', "{'example_field':'example_value'}", 15000000);
    expect(signature).toBe('HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=');
  });

  it('decodes only the characters HubSpot lists before signing the URI', () => {
    const body = '[{"eventId":1}]';
    const expected = createHmac('sha256', 'secret').update(`POSThttps://x.test/hooks/hubspot?src=a:b/c&q=%20(1)${body}1700000000000`).digest('base64');
    expect(hubspotSignatureV3('secret', 'POST', 'https://x.test/hooks/hubspot?src=a%3Ab%2fc&q=%20%281%29', body, 1700000000000)).toBe(expected);
    expect(hubspotSignatureV3('secret', 'POST', 'https://x.test/hooks/hubspot?src=a:b/c&q=%20(1)', body, 1700000000000)).toBe(expected);
  });

  it('builds a contact.propertyChange batch and a signed delivery of it', () => {
    const events = hubspotPropertyChangeEvent({ objectId: '1', propertyName: 'lifecyclestage', propertyValue: 'customer', occurredAt: 1700000000000 });
    expect(events).toEqual([expect.objectContaining({
      subscriptionType: 'contact.propertyChange', objectId: 1, propertyName: 'lifecyclestage', propertyValue: 'customer',
      occurredAt: 1700000000000, attemptNumber: 0, changeSource: 'CRM',
    })]);
    for (const field of ['eventId', 'subscriptionId', 'portalId', 'appId']) expect(events[0]).toHaveProperty(field, expect.any(Number));

    const delivery = hubspotSignedDelivery('secret', 'https://x.test/hooks/hubspot', events, 1700000000123);
    expect(JSON.parse(delivery.body)).toEqual(events);
    expect(delivery.headers['x-hubspot-request-timestamp']).toBe('1700000000123');
    expect(delivery.headers['x-hubspot-signature-v3']).toBe(hubspotSignatureV3('secret', 'POST', 'https://x.test/hooks/hubspot', delivery.body, 1700000000123));
  });
});

describe('Pipedrive stub', () => {
  let pipedrive: PipedriveStub;
  beforeAll(async () => {
    pipedrive = await startPipedriveStub();
  });
  afterAll(() => pipedrive.close());

  const pd = (method: string, path: string, body?: unknown, token = 'pipedrive-test-token') =>
    call(pipedrive.url, method, `${path}${path.includes('?') ? '&' : '?'}api_token=${token}`, { token: null, body });

  it('refuses a wrong api_token', async () => {
    const reply = await pd('POST', '/v1/persons', { name: 'Ada' }, 'wrong');
    expect(reply.status).toBe(401);
    expect(reply.json).toEqual({ success: false, error: 'unauthorized access', errorCode: 401 });
    expect(pipedrive.persons.size).toBe(0);
  });

  it('adds a person and finds it by exact email', async () => {
    const created = await pd('POST', '/v1/persons', { name: 'Ada Lovelace', email: 'ada@example.com' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ success: true, data: { id: 1, name: 'Ada Lovelace', email: [{ value: 'ada@example.com', primary: true, label: 'work' }] } });
    await pd('POST', '/v1/persons', { name: 'Adam', email: [{ value: 'adam@example.com', primary: true, label: 'home' }] });

    const exact = await pd('GET', `/v1/persons/search?term=${encodeURIComponent('ADA@example.com')}&fields=email&exact_match=true`);
    expect(exact.json.success).toBe(true);
    expect(exact.json.data.items).toEqual([{ result_score: 1, item: expect.objectContaining({ id: 1, type: 'person', name: 'Ada Lovelace', emails: ['ada@example.com'] }) }]);
    const partial = await pd('GET', '/v1/persons/search?term=ada&fields=email');
    expect(partial.json.data.items.map((i: Json) => i.item.id)).toEqual([1, 2]);
    expect((await pd('POST', '/v1/persons', { email: 'x@example.com' })).status).toBe(400);
  });

  it('adds a lead only when it is linked to a person or organization, and patches it', async () => {
    const unlinked = await pd('POST', '/v1/leads', { title: 'Orphan' });
    expect(unlinked.status).toBe(400);
    expect(unlinked.json.success).toBe(false);

    const created = await pd('POST', '/v1/leads', { title: 'Ada from pricing page', person_id: 1, value: { amount: 500, currency: 'EUR' } });
    expect(created.status).toBe(201);
    const lead = created.json.data;
    expect(lead.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(lead).toMatchObject({ title: 'Ada from pricing page', person_id: 1, organization_id: null, source_name: 'API', origin: 'API', is_archived: false });

    const patched = await pd('PATCH', `/v1/leads/${lead.id}`, { title: 'Ada (MQL)', value: null });
    expect(patched.status).toBe(200);
    expect(patched.json.data).toMatchObject({ id: lead.id, title: 'Ada (MQL)', value: null, person_id: 1 });
    expect((await pd('PATCH', `/v1/leads/${lead.id}`, { person_id: null })).status).toBe(400);
    expect((await pd('PATCH', '/v1/leads/00000000-0000-4000-8000-000000000000', { title: 'x' })).json).toMatchObject({ success: false, error: 'Lead not found', data: null });
  });

  it('adds a note to a lead (200, as documented) and refuses an unattached one', async () => {
    const leadId = [...pipedrive.leads.keys()][0];
    const note = await pd('POST', '/v1/notes', { content: '<b>Viewed pricing 3 times</b>', lead_id: leadId });
    expect(note.status).toBe(200);
    expect(note.json).toMatchObject({ success: true, data: { id: 1, content: '<b>Viewed pricing 3 times</b>', lead_id: leadId, deal_id: null } });
    expect((await pd('POST', '/v1/notes', { content: 'floating' })).status).toBe(400);
  });

  it('plays queued failures and records every request with its query', async () => {
    const before = pipedrive.requests.length;
    pipedrive.failNext({ status: 429, headers: { 'retry-after': '2' }, body: { success: false, error: 'Too many requests', errorCode: 429 } });
    const limited = await pd('POST', '/v1/persons', { name: 'Grace' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect((await pd('POST', '/v1/persons', { name: 'Grace' })).status).toBe(201);
    const seen = pipedrive.requests.slice(before);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/v1/persons?api_token=pipedrive-test-token', body: { name: 'Grace' } });
    expect(seen[0].headers['content-type']).toBe('application/json');
  });

  it('converts a lead to a deal through the v2 job endpoints', async () => {
    const [leadId] = pipedrive.leads.keys();
    const started = await pd('POST', `/api/v2/leads/${leadId}/convert/deal`, { stage_id: 2 });
    expect(started.status).toBe(200);
    const conversionId = started.json.data.conversion_id;
    const status = await pd('GET', `/api/v2/leads/${leadId}/convert/status/${conversionId}`);
    expect(status.json.data).toEqual({ conversion_id: conversionId, lead_id: leadId, deal_id: 1, status: 'completed' });
    expect(pipedrive.deals.get(1)).toMatchObject({ title: 'Ada (MQL)', person_id: 1, stage_id: 2, status: 'open' });
    expect(pipedrive.leads.has(leadId)).toBe(false);
    expect((await pd('GET', `/v1/leads/${leadId}`)).status).toBe(404);
  });
});

describe('Pipedrive webhook builders', () => {
  const at = new Date('2024-05-01T10:00:00Z');

  it('builds a v1 updated.deal with full current and previous objects', () => {
    const event = pipedriveDealEvent({ version: 1, dealId: 7, status: 'won', value: 1200, currency: 'EUR', personId: 3, at });
    expect(event).toMatchObject({ v: 1, event: 'updated.deal', retry: 0, meta: { v: 1, action: 'updated', object: 'deal', id: 7, timestamp: 1714557600 } });
    expect(event.current).toMatchObject({ id: 7, status: 'won', value: 1200, currency: 'EUR', person_id: 3, won_time: '2024-05-01 10:00:00' });
    expect(event.previous).toMatchObject({ id: 7, status: 'open', won_time: null });
  });

  it('builds a v2 change on a deal whose previous holds only the changed fields', () => {
    const event = pipedriveDealEvent({ version: 2, dealId: 7, status: 'lost', value: 1200, currency: 'EUR', lostReason: 'Price', at, delivery: 2 });
    expect(event.meta).toMatchObject({ action: 'change', entity: 'deal', entity_id: '7', version: '2.0', attempt: 2, timestamp: '2024-05-01T10:00:00.000Z' });
    expect(event.data).toMatchObject({ id: 7, status: 'lost', lost_reason: 'Price', lost_time: '2024-05-01T10:00:00Z' });
    expect(event.previous).toEqual({ status: 'open', lost_time: null, close_time: null, lost_reason: null, update_time: '2024-05-01T09:59:00Z' });
    expect(pipedriveDealEvent({ version: 2, action: 'create', dealId: 8, status: 'open', value: 0, currency: 'EUR' }).previous).toBeNull();
  });

  it('describes a lead conversion as a created deal and a deleted lead', () => {
    const { dealCreated, leadDeleted } = pipedriveLeadConversionEvents({ leadId: 'lead-uuid', dealId: 9, title: 'Ada', personId: 3, value: 500, currency: 'EUR', at });
    expect(dealCreated).toMatchObject({ meta: { action: 'create', entity: 'deal', entity_id: '9' }, data: { id: 9, person_id: 3, value: 500 }, previous: null });
    expect(leadDeleted).toMatchObject({ meta: { action: 'delete', entity: 'lead', entity_id: 'lead-uuid' }, data: null, previous: { id: 'lead-uuid', person_id: 3 } });
  });

  it('makes the Basic auth header Pipedrive sends with webhook credentials', () => {
    expect(basicAuth('funnelbeam', 's3cret')).toBe(`Basic ${Buffer.from('funnelbeam:s3cret').toString('base64')}`);
  });
});
