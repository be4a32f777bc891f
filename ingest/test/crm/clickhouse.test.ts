// CRM connectors with two collectors on one ClickHouse: exactly one of them (the lease holder)
// delivers, so a lead whose events arrive through both becomes one contact; the CRM's webhook
// may reach either; the e-mail is erased from ClickHouse's parts once delivered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canSkipClickHouse, startClickHouse, type RunningClickHouse } from '../../../test-support/clickhouse.js';
import { startCollector, type RunningCollector } from '../../../test-support/collector.js';
import { hubspotPropertyChangeEvent, hubspotSignedDelivery, startHubSpotStub, type HubSpotStub } from '../../../test-support/hubspotStub.js';
import { waitFor } from '../../../test-support/webhookReceiver.js';

const SITE = 'shop.example.com';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const HUBSPOT = { access_token: 'hubspot-test-token', client_secret: 'hubspot-client-secret' };
const skip = canSkipClickHouse();

describe.skipIf(skip)('CRM connectors on ClickHouse', () => {
  let clickhouse: RunningClickHouse;
  let hubspot: HubSpotStub;
  let a: RunningCollector;
  let b: RunningCollector;
  const database = 'crm_connectors';

  beforeAll(async () => {
    [clickhouse, hubspot] = await Promise.all([startClickHouse(), startHubSpotStub()]);
    const options = {
      databaseUrl: clickhouse.databaseUrlFor(database),
      crmApiUrls: { hubspot: hubspot.url, pipedrive: 'http://127.0.0.1:9' },
      webhooks: { allowPrivateAddresses: true, retryBaseMs: 100, pollMs: 50 },
    };
    a = await startCollector(options);
    b = await startCollector(options);
    expect((await a.admin('/api/sites', { body: { domain: SITE } })).status).toBe(201);
    expect((await b.admin(`/api/sites/${SITE}/scoring`, { method: 'PUT', body: { threshold: 20, rules: [{ points: 10, event: 'deal_view' }] } })).status).toBe(200);
    expect((await a.admin(`/api/sites/${SITE}/integrations/hubspot`, { method: 'PUT', body: HUBSPOT })).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await hubspot?.close();
    await clickhouse?.stop();
  });

  const send = (collector: RunningCollector, body: unknown) => fetch(`${collector.url}/api/event`, {
    method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': UA }, body: JSON.stringify(body),
  });

  it('delivers each change once, from one collector, whichever took the events', async () => {
    const base = { site: SITE, url: `https://${SITE}/deals/spa`, visitor: 'v-ch', session: 's-ch' };
    expect((await send(a, { ...base, name: 'signup', lead: 'crm-ch', email: 'ch@example.com', id: 'e1', ts: Date.now() })).status).toBe(202);
    expect((await send(b, { ...base, name: 'deal_view', id: 'e2', ts: Date.now() + 1 })).status).toBe(202);
    expect((await send(a, { ...base, name: 'deal_view', id: 'e3', ts: Date.now() + 2 })).status).toBe(202);
    const contact = await waitFor(() => [...hubspot.contacts.values()].find((c) => c.properties.lifecyclestage === 'marketingqualifiedlead'), 30_000, 100);
    expect(contact.properties).toMatchObject({ email: 'ch@example.com', funnelbeam_lead_id: 'crm-ch' });
    expect(hubspot.contacts.size).toBe(1);
    // One create, one update: no collector sent anything twice.
    const writes = hubspot.requests.filter((r) => r.path.startsWith('/crm/v3/objects/contacts') && r.method !== 'GET' && !r.path.endsWith('/search'));
    expect(writes.map((r) => r.method)).toEqual(['POST', 'PATCH']);
  }, 60_000);

  it('erases the e-mail from ClickHouse once delivered (no row left in any part)', async () => {
    const count = async () => Number((await clickhouse.rows(`SELECT count() AS n FROM ${database}.account_records WHERE position(body, 'ch@example.com') > 0`))[0].n);
    await waitFor(async () => ((await count()) === 0 ? true : undefined), 15_000, 100);
  }, 30_000);

  it('takes HubSpot’s webhook at either collector', async () => {
    const contact = [...hubspot.contacts.values()][0];
    const url = `${b.url}/api/sites/${SITE}/integrations/hubspot/events`;
    const signed = hubspotSignedDelivery(HUBSPOT.client_secret, url, hubspotPropertyChangeEvent({ objectId: contact.id, propertyName: 'lifecyclestage', propertyValue: 'customer' }));
    const reply = await fetch(url, { method: 'POST', headers: signed.headers, body: signed.body });
    expect(await reply.json()).toEqual({ moved: 1 });
    const lead = (await (await a.admin(`/api/sites/${SITE}/leads/crm-ch`)).json()) as { stage: string };
    expect(lead.stage).toBe('won');
  }, 30_000);
});
