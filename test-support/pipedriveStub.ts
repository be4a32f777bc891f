// A stand-in for Pipedrive's API v1 (persons, leads, notes) and the v2 lead-to-deal conversion on
// 127.0.0.1, for integration tests: documented shapes, every request recorded, failures on demand.
//
// Docs followed (read through the search tool, from a copy of developers.pipedrive.com's reference
// and pipedrive.readme.io's guides; the live pages could not be fetched from here):
// - Persons, "Add a person" (POST /v1/persons, 201) and "Search persons" (GET /v1/persons/search:
//   term, fields, exact_match, organization_id, start, limit; a wrapper of /v1/itemSearch), with the
//   result item's fields from Pipedrive's generated client (pipedrive/client-nodejs,
//   PersonSearchItemItem: id, type, name, phones, emails, visible_to, owner, organization, ...).
// - Leads, "Add a lead" (POST /v1/leads, 201: title required, "A lead always has to be linked to a
//   person or an organization or both", id is a UUID, source_name and origin are API) and "Update a
//   lead" (PATCH /v1/leads/{id}: only the properties sent change, null unsets; 404 body
//   { success, error, error_info, data, additional_data }).
// - Notes, "Add a note" (POST /v1/notes; documented response 200, not 201).
// - Leads API v2, "Convert a lead to a deal" (POST /api/v2/leads/{id}/convert/deal returns a
//   conversion_id; "If the conversion is successful, the lead is marked as deleted") and "Get Lead
//   conversion status" (GET /api/v2/leads/{id}/convert/status/{conversion_id}: status, and deal_id
//   once completed), as documented in pipedrive/client-php's LeadsApi (v2).
// - "Guide for Webhooks" (v1) and "Guide for Webhooks v2" on pipedrive.readme.io: payload formats,
//   meta blocks, which of current/previous (v1) and data/previous (v2) are null per action, and HTTP
//   Basic auth (http_auth_user / http_auth_password) as the only way a receiver authenticates them.
// The 401 body { success: false, error, errorCode } follows the shape Pipedrive returns for auth
// errors (quoted for a 403 in pipedrive/client-php#14).
import { randomUUID } from 'node:crypto';
import { asRecord, startStubServer, type RecordedRequest, type StubReply, type StubServer } from './stubServer.js';

export type { RecordedRequest, StubReply };



export interface PipedriveContactValue {
  value: string;
  primary: boolean;
  label?: string;
}

export interface PipedrivePerson {
  id: number;
  name: string;
  email: PipedriveContactValue[];
  phone: PipedriveContactValue[];
  org_id: number | null;
  owner_id: number;
  add_time: string;
  update_time: string;
  /** Custom fields arrive under their hash keys and are kept as sent. */
  [field: string]: unknown;
}

export interface PipedriveLead {
  id: string;
  title: string;
  person_id: number | null;
  organization_id: number | null;
  value: { amount: number; currency: string } | null;
  is_archived: boolean;
  add_time: string;
  update_time: string;
  [field: string]: unknown;
}

export interface PipedriveNote {
  id: number;
  content: string;
  lead_id: string | null;
  deal_id: number | null;
  person_id: number | null;
  org_id: number | null;
  [field: string]: unknown;
}

export interface PipedriveDeal {
  id: number;
  title: string;
  status: PipedriveDealStatus;
  value: number;
  currency: string;
  person_id: number | null;
  org_id: number | null;
  [field: string]: unknown;
}

export interface PipedriveConversion {
  conversion_id: string;
  lead_id: string;
  deal_id: number;
  status: 'completed';
}

/** The API lives under /v1 (or /api/v1) and /api/v2 of `url`. */
export interface PipedriveStub extends StubServer {
  persons: Map<number, PipedrivePerson>;
  leads: Map<string, PipedriveLead>;
  notes: Map<number, PipedriveNote>;
  /** Deals made by converting leads. */
  deals: Map<number, PipedriveDeal>;
  conversions: Map<string, PipedriveConversion>;
  setApiToken(apiToken: string): void;
}

const DEFAULT_API_TOKEN = 'pipedrive-test-token';
const USER_ID = 9001;
const COMPANY_ID = 7001;

export async function startPipedriveStub(options: { apiToken?: string } = {}): Promise<PipedriveStub> {
  let apiToken = options.apiToken ?? DEFAULT_API_TOKEN;
  const persons = new Map<number, PipedrivePerson>();
  const leads = new Map<string, PipedriveLead>();
  const notes = new Map<number, PipedriveNote>();
  const deals = new Map<number, PipedriveDeal>();
  const conversions = new Map<string, PipedriveConversion>();
  const server = await startStubServer((recorded, url) => {
    // API tokens go in the api_token query parameter; newer clients send the x-api-token header.
    const given = url.searchParams.get('api_token') ?? recorded.headers['x-api-token'];
    if (given !== apiToken) return { status: 401, body: { success: false, error: 'unauthorized access', errorCode: 401 } };
    if (typeof recorded.body === 'string') return pipedriveError(400, 'Malformed JSON in the request body');
    return route(recorded.method, url, recorded.body);
  }, 'application/json');

  function route(method: string, url: URL, body: unknown): StubReply {
    // Pipedrive serves v1 both at /v1/... and at /api/v1/... on a company domain; v2 at /api/v2/....
    const parts = url.pathname.replace(/^\/api\/v1\//, '/v1/').split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'v1') {
      const [, resource, id] = parts;
      if (resource === 'persons') {
        if (parts.length === 2 && method === 'POST') return addPerson(body);
        if (parts.length === 3 && id === 'search' && method === 'GET') return searchPersons(url.searchParams);
        if (parts.length === 3 && method === 'GET') return found(persons.get(Number(id)), 'Person not found');
        if (parts.length === 3 && method === 'PUT') return updatePerson(Number(id), body);
      }
      if (resource === 'leads') {
        if (parts.length === 2 && method === 'POST') return addLead(body);
        if (parts.length === 3 && method === 'GET') return found(leads.get(id), 'Lead not found');
        if (parts.length === 3 && method === 'PATCH') return updateLead(id, body);
      }
      if (resource === 'notes' && parts.length === 2 && method === 'POST') return addNote(body);
    }
    if (parts[0] === 'api' && parts[1] === 'v2' && parts[2] === 'leads' && parts[4] === 'convert') {
      const leadId = parts[3];
      if (parts.length === 6 && parts[5] === 'deal' && method === 'POST') return convertLead(leadId, body);
      if (parts.length === 7 && parts[5] === 'status' && method === 'GET') return conversionStatus(leadId, parts[6]);
    }
    return pipedriveError(404, 'Unknown method .');
  }

  function addPerson(body: unknown): StubReply {
    const input = asRecord(body);
    if (!input || typeof input.name !== 'string' || input.name.trim() === '') return pipedriveError(400, 'Name must be given.');
    const { name, email, phone, org_id, owner_id, visible_to, ...custom } = input;
    const id = nextId(persons);
    const now = pipedriveTime(new Date());
    const emails = contactValues(email);
    const person: PipedrivePerson = {
      ...custom,
      id,
      company_id: COMPANY_ID,
      name: String(name),
      first_name: String(name).split(' ')[0],
      last_name: String(name).split(' ').slice(1).join(' ') || null,
      email: emails,
      phone: contactValues(phone),
      primary_email: emails.find((e) => e.primary && e.value !== '')?.value ?? null,
      org_id: typeof org_id === 'number' ? org_id : null,
      owner_id: typeof owner_id === 'number' ? owner_id : USER_ID,
      visible_to: visible_to === undefined ? '3' : String(visible_to),
      active_flag: true,
      add_time: now,
      update_time: now,
    };
    persons.set(id, person);
    return { status: 201, body: { success: true, data: person } };
  }

  // "Update a person" (PUT /v1/persons/{id}): the fields given replace the person's; email as on add.
  function updatePerson(id: number, body: unknown): StubReply {
    const person = persons.get(id);
    if (!person) return pipedriveError(404, 'Person not found');
    const input = asRecord(body) ?? {};
    const updated: PipedrivePerson = { ...person, update_time: pipedriveTime(new Date()) };
    if (typeof input.name === 'string') updated.name = input.name;
    if (input.email !== undefined) {
      updated.email = contactValues(input.email);
      updated.primary_email = updated.email.find((e) => e.primary && e.value !== '')?.value ?? null;
    }
    persons.set(id, updated);
    return { status: 200, body: { success: true, data: updated } };
  }

  function searchPersons(query: URLSearchParams): StubReply {
    const term = query.get('term') ?? '';
    const exact = ['true', '1'].includes(query.get('exact_match') ?? '');
    if (term.length < (exact ? 1 : 2)) return pipedriveError(400, 'Search term must be at least 2 characters long (1 with exact_match)');
    const fields = (query.get('fields') ?? 'custom_fields,email,notes,phone,name').split(',').map((f) => f.trim());
    const unknown = fields.filter((f) => !['custom_fields', 'email', 'notes', 'phone', 'name'].includes(f));
    if (unknown.length > 0) return pipedriveError(400, `Invalid fields: ${unknown.join(', ')}`);
    const wanted = term.toLowerCase();
    const matches = (candidate: string) => (exact ? candidate.toLowerCase() === wanted : candidate.toLowerCase().includes(wanted));
    const orgId = query.get('organization_id');
    const hits = [...persons.values()]
      .filter((p) => orgId === null || String(p.org_id) === orgId)
      .filter((p) =>
        (fields.includes('name') && matches(p.name)) ||
        (fields.includes('email') && p.email.some((e) => e.value !== '' && matches(e.value))) ||
        (fields.includes('phone') && p.phone.some((e) => e.value !== '' && matches(e.value))) ||
        (fields.includes('custom_fields') && customValues(p).some(matches)));
    const start = Number(query.get('start') ?? 0) || 0;
    const limit = Number(query.get('limit') ?? 100) || 100;
    const items = hits.slice(start, start + limit).map((p) => ({
      // Scores are relative ranks in Pipedrive; the stub only tells exact from partial matches.
      result_score: exact ? 1 : 0.5,
      item: {
        id: p.id,
        type: 'person',
        name: p.name,
        phones: p.phone.map((e) => e.value).filter(Boolean),
        emails: p.email.map((e) => e.value).filter(Boolean),
        visible_to: Number(p.visible_to ?? 3),
        owner: { id: p.owner_id },
        organization: p.org_id === null ? null : { id: p.org_id, name: null, address: null },
        custom_fields: customValues(p),
        notes: [],
      },
    }));
    const more = start + limit < hits.length;
    return {
      status: 200,
      body: {
        success: true,
        data: { items },
        additional_data: { pagination: { start, limit, more_items_in_collection: more, ...(more ? { next_start: start + limit } : {}) } },
      },
    };
  }

  function addLead(body: unknown): StubReply {
    const input = asRecord(body);
    if (!input || typeof input.title !== 'string' || input.title === '') return pipedriveError(400, 'Lead title must be given.');
    if (input.person_id == null && input.organization_id == null) {
      return pipedriveError(400, 'A lead always has to be linked to a person or an organization or both.');
    }
    const value = leadValue(input.value);
    if (value === 'invalid') return pipedriveError(400, 'Lead value needs both amount and currency.');
    const now = new Date().toISOString();
    const id = randomUUID();
    const lead: PipedriveLead = {
      ...input,
      id,
      title: input.title,
      owner_id: typeof input.owner_id === 'number' ? input.owner_id : USER_ID,
      creator_id: USER_ID,
      label_ids: Array.isArray(input.label_ids) ? input.label_ids : [],
      person_id: typeof input.person_id === 'number' ? input.person_id : null,
      organization_id: typeof input.organization_id === 'number' ? input.organization_id : null,
      // Set by Pipedrive for every lead created through the API; `origin` cannot be changed later.
      source_name: 'API',
      origin: 'API',
      origin_id: typeof input.origin_id === 'string' ? input.origin_id : null,
      channel: typeof input.channel === 'number' ? input.channel : null,
      channel_id: typeof input.channel_id === 'string' ? input.channel_id : null,
      is_archived: false,
      was_seen: input.was_seen === true,
      value,
      expected_close_date: typeof input.expected_close_date === 'string' ? input.expected_close_date : null,
      next_activity_id: null,
      add_time: now,
      update_time: now,
      visible_to: input.visible_to === undefined ? '3' : String(input.visible_to),
      cc_email: `company+lead-${id}@pipedrivemail.com`,
    };
    leads.set(id, lead);
    return { status: 201, body: { success: true, data: lead } };
  }

  function updateLead(id: string, body: unknown): StubReply {
    const lead = leads.get(id);
    if (!lead) return pipedriveError(404, 'Lead not found');
    const input = asRecord(body);
    if (!input) return pipedriveError(400, 'The request body must be a JSON object');
    // Ids, times, the creator and the origin are Pipedrive's to set.
    const { id: _id, add_time, update_time, creator_id, origin, source_name, cc_email, ...changes } = input;
    const value = 'value' in changes ? leadValue(changes.value) : lead.value;
    if (value === 'invalid') return pipedriveError(400, 'Lead value needs both amount and currency.');
    const updated = { ...lead, ...changes, value };
    if (updated.person_id == null && updated.organization_id == null) {
      return pipedriveError(400, 'A lead always has to be linked to a person or an organization or both.');
    }
    Object.assign(lead, updated, { update_time: new Date().toISOString() });
    return { status: 200, body: { success: true, data: lead } };
  }

  function addNote(body: unknown): StubReply {
    const input = asRecord(body);
    if (!input || typeof input.content !== 'string' || input.content === '') return pipedriveError(400, 'Note content must be given.');
    if (['lead_id', 'deal_id', 'person_id', 'org_id', 'project_id'].every((key) => input[key] == null)) {
      return pipedriveError(400, 'A note must be attached to a lead, deal, person, organization or project.');
    }
    const id = nextId(notes);
    const now = pipedriveTime(new Date());
    const note: PipedriveNote = {
      id,
      content: input.content,
      lead_id: typeof input.lead_id === 'string' ? input.lead_id : null,
      deal_id: typeof input.deal_id === 'number' ? input.deal_id : null,
      person_id: typeof input.person_id === 'number' ? input.person_id : null,
      org_id: typeof input.org_id === 'number' ? input.org_id : null,
      project_id: typeof input.project_id === 'number' ? input.project_id : null,
      user_id: USER_ID,
      last_update_user_id: null,
      active_flag: true,
      pinned_to_deal_flag: input.pinned_to_deal_flag === true,
      pinned_to_person_flag: input.pinned_to_person_flag === true,
      pinned_to_organization_flag: input.pinned_to_organization_flag === true,
      pinned_to_lead_flag: input.pinned_to_lead_flag === true,
      add_time: typeof input.add_time === 'string' ? input.add_time : now,
      update_time: now,
    };
    notes.set(id, note);
    return { status: 200, body: { success: true, data: note } };
  }

  // Pipedrive runs conversions as a job; the stub finishes it at once, so the first status read
  // already says completed. The lead is removed, as Pipedrive marks it deleted.
  function convertLead(leadId: string, body: unknown): StubReply {
    const lead = leads.get(leadId);
    if (!lead) return pipedriveError(404, 'Lead not found');
    const input = asRecord(body) ?? {};
    const id = nextId(deals);
    const now = new Date().toISOString();
    const deal: PipedriveDeal = {
      id,
      title: lead.title,
      status: 'open',
      value: lead.value?.amount ?? 0,
      currency: lead.value?.currency ?? 'USD',
      person_id: lead.person_id,
      org_id: lead.organization_id,
      stage_id: typeof input.stage_id === 'number' ? input.stage_id : 1,
      pipeline_id: typeof input.pipeline_id === 'number' ? input.pipeline_id : 1,
      owner_id: lead.owner_id,
      add_time: now,
      update_time: now,
    };
    deals.set(id, deal);
    leads.delete(leadId);
    for (const note of notes.values()) {
      if (note.lead_id === leadId) Object.assign(note, { lead_id: null, deal_id: id });
    }
    const conversion: PipedriveConversion = { conversion_id: randomUUID(), lead_id: leadId, deal_id: id, status: 'completed' };
    conversions.set(conversion.conversion_id, conversion);
    return { status: 200, body: { success: true, data: { conversion_id: conversion.conversion_id }, additional_data: null } };
  }

  function conversionStatus(leadId: string, conversionId: string): StubReply {
    const conversion = conversions.get(conversionId);
    if (!conversion || conversion.lead_id !== leadId) return pipedriveError(404, 'Conversion not found');
    return { status: 200, body: { success: true, data: conversion, additional_data: null } };
  }

  function found(item: unknown, missing: string): StubReply {
    return item ? { status: 200, body: { success: true, data: item } } : pipedriveError(404, missing);
  }

  return {
    ...server,
    persons,
    leads,
    notes,
    deals,
    conversions,
    setApiToken: (next) => void (apiToken = next),
  };
}

export type PipedriveDealStatus = 'open' | 'won' | 'lost';

export interface PipedriveDealEventOptions {
  version: 1 | 2;
  dealId: number;
  status: PipedriveDealStatus;
  value: number;
  currency: string;
  /** 'create' for a new deal (previous is null); 'change' by default. */
  action?: 'create' | 'change';
  /** The status before a change; 'open' unless given. */
  previousStatus?: PipedriveDealStatus;
  title?: string;
  personId?: number | null;
  orgId?: number | null;
  stageId?: number;
  pipelineId?: number;
  lostReason?: string | null;
  /** When the change happened; now unless given. */
  at?: Date;
  /** v1 `retry` (0 first) or v2 `attempt` (1 first) is derived from this delivery count, 1 first. */
  delivery?: number;
}

export interface PipedriveWebhookV1 {
  v: 1;
  matches_filters: { current: number[]; previous: number[] };
  meta: Record<string, unknown> & { v: 1; action: 'added' | 'updated' | 'deleted' | 'merged'; object: string; id: number };
  retry: number;
  current: Record<string, unknown> | null;
  previous: Record<string, unknown> | null;
  event: string;
}

export interface PipedriveWebhookV2 {
  meta: Record<string, unknown> & { action: 'create' | 'change' | 'delete'; entity: string; entity_id: string; version: '2.0' };
  data: Record<string, unknown> | null;
  previous: Record<string, unknown> | null;
}

/**
 * A deal webhook as Pipedrive sends it. v1 (`updated.deal`, full `current` and `previous` objects)
 * and v2 (`change` on entity `deal`, `data` with the deal's essentials and `previous` holding only
 * the fields that changed) differ in nearly every name. Neither carries the lead a deal came from:
 * see pipedriveLeadConversionEvents.
 */
export function pipedriveDealEvent(options: PipedriveDealEventOptions & { version: 1 }): PipedriveWebhookV1;
export function pipedriveDealEvent(options: PipedriveDealEventOptions & { version: 2 }): PipedriveWebhookV2;
export function pipedriveDealEvent(options: PipedriveDealEventOptions): PipedriveWebhookV1 | PipedriveWebhookV2;
export function pipedriveDealEvent(options: PipedriveDealEventOptions): PipedriveWebhookV1 | PipedriveWebhookV2 {
  const at = options.at ?? new Date();
  const action = options.action ?? 'change';
  const before = options.previousStatus ?? 'open';
  // A created deal was added just now; a changed one a day ago and last touched a minute ago.
  const added = action === 'create' ? at : new Date(at.getTime() - 86_400_000);
  const touched = new Date(at.getTime() - 60_000);
  if (options.version === 1) {
    const current = dealV1(options, options.status, added, at);
    const previous = action === 'create' ? null : dealV1(options, before, added, touched);
    const v1Action = action === 'create' ? 'added' : 'updated';
    return {
      v: 1,
      matches_filters: { current: [], previous: [] },
      meta: { ...metaV1('deal', options.dealId, v1Action, at), v: 1, action: v1Action, object: 'deal', id: options.dealId },
      retry: (options.delivery ?? 1) - 1,
      current,
      previous,
      event: `${v1Action}.deal`,
    };
  }
  const data = dealV2(options, options.status, added, at);
  let previous: Record<string, unknown> | null = null;
  if (action === 'change') {
    const earlier = dealV2(options, before, added, touched);
    previous = Object.fromEntries(Object.entries(earlier).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(data[key])));
  }
  return { meta: metaV2('deal', String(options.dealId), action, at, options.delivery), data, previous };
}

export interface PipedriveLeadConversionOptions {
  leadId: string;
  dealId: number;
  title: string;
  personId?: number | null;
  orgId?: number | null;
  value?: number;
  currency?: string;
  at?: Date;
}

/**
 * The two v2 webhooks a lead-to-deal conversion produces: the new deal (`create` on `deal`) and the
 * lead, which Pipedrive marks deleted (`delete` on `lead`: data null, previous its last state).
 * v1 webhooks have no lead object, so v1 only shows `added.deal`. Nothing in either payload names
 * the other: Pipedrive documents the link only in the conversion job's status (lead_id, deal_id),
 * so a receiver can tie them by the shared person_id / org_id and title, or read the status when
 * it started the conversion itself.
 */
export function pipedriveLeadConversionEvents(options: PipedriveLeadConversionOptions): { dealCreated: PipedriveWebhookV2; leadDeleted: PipedriveWebhookV2 } {
  const at = options.at ?? new Date();
  const currency = options.currency ?? 'USD';
  const dealCreated = pipedriveDealEvent({
    version: 2, action: 'create', dealId: options.dealId, status: 'open', value: options.value ?? 0, currency,
    title: options.title, personId: options.personId ?? null, orgId: options.orgId ?? null, at,
  });
  const lastState = {
    id: options.leadId,
    title: options.title,
    person_id: options.personId ?? null,
    organization_id: options.orgId ?? null,
    value: options.value === undefined ? null : { amount: options.value, currency },
    is_archived: false,
    owner_id: USER_ID,
    creator_id: USER_ID,
    origin: 'API',
    origin_id: null,
    channel: null,
    channel_id: null,
    source_name: 'API',
    custom_fields: {},
    update_time: new Date(at.getTime() - 60_000).toISOString(),
  };
  return { dealCreated, leadDeleted: { meta: metaV2('lead', options.leadId, 'delete', at), data: null, previous: lastState } };
}

/** The Authorization header value Pipedrive sends when a webhook has http_auth_user/password. */
export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

function dealV1(options: PipedriveDealEventOptions, status: PipedriveDealStatus, added: Date, at: Date): Record<string, unknown> {
  const closed = status === 'open' ? null : pipedriveTime(at);
  return {
    id: options.dealId,
    title: options.title ?? `Deal ${options.dealId}`,
    status,
    value: options.value,
    currency: options.currency,
    weighted_value: options.value,
    weighted_value_currency: options.currency,
    person_id: options.personId ?? null,
    org_id: options.orgId ?? null,
    stage_id: options.stageId ?? 1,
    pipeline_id: options.pipelineId ?? 1,
    user_id: USER_ID,
    creator_user_id: USER_ID,
    won_time: status === 'won' ? closed : null,
    first_won_time: status === 'won' ? closed : null,
    lost_time: status === 'lost' ? closed : null,
    close_time: closed,
    lost_reason: status === 'lost' ? options.lostReason ?? null : null,
    active: status === 'open',
    deleted: false,
    is_archived: false,
    visible_to: '3',
    origin: 'ManuallyCreated',
    origin_id: null,
    channel: null,
    channel_id: null,
    add_time: pipedriveTime(added),
    update_time: pipedriveTime(at),
  };
}

function dealV2(options: PipedriveDealEventOptions, status: PipedriveDealStatus, added: Date, at: Date): Record<string, unknown> {
  const closed = status === 'open' ? null : isoSeconds(at);
  return {
    id: options.dealId,
    title: options.title ?? `Deal ${options.dealId}`,
    status,
    value: options.value,
    currency: options.currency,
    person_id: options.personId ?? null,
    org_id: options.orgId ?? null,
    stage_id: options.stageId ?? 1,
    pipeline_id: options.pipelineId ?? 1,
    owner_id: USER_ID,
    creator_user_id: USER_ID,
    won_time: status === 'won' ? closed : null,
    lost_time: status === 'lost' ? closed : null,
    close_time: closed,
    lost_reason: status === 'lost' ? options.lostReason ?? null : null,
    is_deleted: false,
    is_archived: false,
    origin: 'ManuallyCreated',
    origin_id: null,
    channel: null,
    channel_id: null,
    custom_fields: {},
    add_time: isoSeconds(added),
    update_time: isoSeconds(at),
  };
}

function metaV1(object: string, id: number, action: string, at: Date): Record<string, unknown> {
  return {
    v: 1,
    action,
    object,
    change_source: 'app',
    id,
    company_id: COMPANY_ID,
    user_id: USER_ID,
    host: 'company.pipedrive.com',
    // 10 and 16 digit epoch timestamps (seconds and microseconds), per the v1 meta block table.
    timestamp: Math.floor(at.getTime() / 1000),
    timestamp_micro: at.getTime() * 1000,
    permitted_user_ids: [USER_ID],
    trans_pending: false,
    is_bulk_update: false,
    pipedrive_service_name: false,
    matches_filters: { current: [], previous: [] },
    webhook_id: 555,
  };
}

function metaV2(entity: string, entityId: string, action: 'create' | 'change' | 'delete', at: Date, delivery = 1): PipedriveWebhookV2['meta'] {
  // v2 sends its ids as strings, and (despite the meta table's "10 character timestamp") an ISO
  // time in the guide's own example, which is what the stub follows.
  return {
    action,
    entity,
    company_id: String(COMPANY_ID),
    correlation_id: randomUUID(),
    entity_id: entityId,
    id: randomUUID(),
    is_bulk_edit: false,
    timestamp: at.toISOString(),
    type: 'general',
    user_id: String(USER_ID),
    version: '2.0',
    webhook_id: '555',
    webhook_owner_id: String(USER_ID),
    change_source: 'app',
    attempt: delivery,
    host: 'company.pipedrive.com',
    permitted_user_ids: [String(USER_ID)],
  };
}

// Accepts what "Add a person" takes for email and phone: a string, an array of strings, or an
// array of { value, primary, label }; answers with the array of objects Pipedrive returns.
function contactValues(input: unknown): PipedriveContactValue[] {
  const list = input === undefined || input === null ? [] : Array.isArray(input) ? input : [input];
  const values = list.map((entry): PipedriveContactValue => {
    const object = asRecord(entry);
    if (!object) return { value: String(entry), primary: false, label: 'work' };
    return { value: String(object.value ?? ''), primary: object.primary === true, label: typeof object.label === 'string' ? object.label : 'work' };
  });
  if (values.length === 0) return [{ value: '', primary: true }];
  if (!values.some((v) => v.primary)) values[0].primary = true;
  return values;
}

function leadValue(input: unknown): PipedriveLead['value'] | 'invalid' {
  if (input === undefined || input === null) return null;
  const value = asRecord(input);
  if (!value || typeof value.amount !== 'number' || typeof value.currency !== 'string') return 'invalid';
  return { amount: value.amount, currency: value.currency };
}

// Custom fields are the 40-character hex keys Pipedrive gives them.
function customValues(person: PipedrivePerson): string[] {
  return Object.entries(person)
    .filter(([key, value]) => /^[0-9a-f]{40}$/.test(key) && (typeof value === 'string' || typeof value === 'number'))
    .map(([, value]) => String(value));
}

function nextId(items: Map<number, unknown>): number {
  return Math.max(0, ...items.keys()) + 1;
}

// v1 persons, notes and deals use "YYYY-MM-DD HH:MM:SS" in UTC; leads and v2 use ISO 8601.
function pipedriveTime(at: Date): string {
  return at.toISOString().slice(0, 19).replace('T', ' ');
}

function isoSeconds(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

function pipedriveError(status: number, error: string): StubReply {
  return { status, body: { success: false, error, error_info: 'Please check developers.pipedrive.com', data: null, additional_data: null } };
}





