// A stand-in for HubSpot's CRM v3 contacts and properties API on 127.0.0.1, for integration tests:
// it answers in the documented shapes, records every request, and fails on demand (failNext).
//
// Docs followed (read through the search tool; the live pages could not be fetched from here):
// - Contacts guide, https://developers.hubspot.com/docs/api/crm/contacts: create with a
//   `properties` object, PATCH by id or by email with `?idProperty=email`, "Provided property values
//   will be overwritten", "Properties values can be cleared by passing an empty string".
// - API reference "Create a contact" / "Update a contact",
//   https://developers.hubspot.com/docs/api-reference/latest/crm/objects/contacts/create-contact and
//   .../update-contact: the object shape { id, properties, createdAt, updatedAt, archived }.
// - Search the CRM, https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm:
//   POST {object}/search with filterGroups (groups OR'd, filters AND'd); default contact properties
//   createdate, email, firstname, hs_object_id, lastmodifieddate, lastname; { total, results, paging }.
// - Properties API, https://developers.hubspot.com/docs/api/crm/properties and "Create a property",
//   https://developers.hubspot.com/docs/api-reference/latest/crm/properties/create-property: name, label,
//   type, fieldType and groupName are required; the legacy create-property page documents 409 for a
//   name that already exists.
// - Error handling, https://developers.hubspot.com/docs/api-reference/error-handling and
//   https://developers.hubspot.com/docs/faq/api-error-responses: { status: 'error', message,
//   correlationId, category, errors? }. The 401 message (category INVALID_AUTHENTICATION) and the 409
//   "Contact already exists. Existing ID: N" (category CONFLICT) are as HubSpot returns them, quoted in
//   HubSpot/hubspot-api-nodejs#545 and HubSpot/hubspot-api-python#51.
// - Request validation, https://developers.hubspot.com/docs/api/webhooks/validating-requests (and the
//   v3 changelog entry "Introducing version 3 of Webhook signatures"): see hubspotSignatureV3.
// - Webhooks API payloads (legacy-app webhooks, `contact.propertyChange`), with the example event in
//   the validating-requests page: see hubspotPropertyChangeEvent.
import { createHmac, randomUUID } from 'node:crypto';
import { asRecord, startStubServer, type RecordedRequest, type StubReply, type StubServer } from './stubServer.js';

export type { RecordedRequest, StubReply };



export interface HubSpotContact {
  id: string;
  /** HubSpot keeps createdate, lastmodifieddate and hs_object_id here too; every value is a string. */
  properties: Record<string, string>;
}

export interface HubSpotStub extends StubServer {
  /** By contact id. Tests may seed it; new ids continue above the highest numeric id. */
  contacts: Map<string, HubSpotContact>;
  /** Custom contact properties created through the API, by name, as HubSpot returned them. */
  properties: Map<string, unknown>;
  setToken(token: string): void;
}

const DEFAULT_TOKEN = 'hubspot-test-token';

// The properties a search or GET returns when the request names none (search-the-crm docs).
const DEFAULT_RETURNED = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'];

// A portal's built-in contact properties that a connector is likely to write. Anything else must be
// created first, as on a real portal, so a connector that forgets to create its property fails here.
const BUILT_IN_PROPERTIES = new Set([
  ...DEFAULT_RETURNED,
  'phone', 'mobilephone', 'company', 'website', 'jobtitle', 'address', 'city', 'state', 'zip', 'country',
  'lifecyclestage', 'hs_lead_status', 'hubspot_owner_id', 'message',
]);

// Set by HubSpot on every write; a request may not set them.
const READ_ONLY_PROPERTIES = new Set(['createdate', 'lastmodifieddate', 'hs_object_id']);

const PROPERTY_TYPES = new Set(['string', 'number', 'date', 'datetime', 'enumeration', 'bool']);
const FIELD_TYPES = new Set([
  'text', 'textarea', 'number', 'date', 'file', 'select', 'radio', 'checkbox', 'booleancheckbox',
  'calculation_equation', 'html', 'phonenumber',
]);

export async function startHubSpotStub(options: { token?: string } = {}): Promise<HubSpotStub> {
  let token = options.token ?? DEFAULT_TOKEN;
  const contacts = new Map<string, HubSpotContact>();
  const properties = new Map<string, unknown>();
  const server = await startStubServer((recorded, url) => {
    if (recorded.headers.authorization !== `Bearer ${token}`) {
      return hubspotError(401, 'INVALID_AUTHENTICATION',
        'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview');
    }
    if (typeof recorded.body === 'string') return hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON on line 1');
    return route(recorded.method, url, recorded.body);
  }, 'application/json;charset=utf-8');

  function route(method: string, url: URL, body: unknown): StubReply {
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const [crm, v3, kind, objectType, third] = parts;
    if (crm !== 'crm' || v3 !== 'v3' || objectType !== 'contacts') return notFound();
    if (kind === 'objects') {
      if (parts.length === 5 && third === 'search' && method === 'POST') return searchContacts(body);
      if (parts.length === 4 && method === 'POST') return createContact(body);
      if (parts.length === 5 && method === 'GET') return getContact(third, url);
      if (parts.length === 5 && method === 'PATCH') return updateContact(third, url, body);
    }
    if (kind === 'properties') {
      if (parts.length === 5 && method === 'GET') return getProperty(third);
      if (parts.length === 4 && method === 'POST') return createProperty(body);
    }
    return notFound();
  }

  function searchContacts(body: unknown): StubReply {
    const input = asRecord(body) ?? {};
    const groups = Array.isArray(input.filterGroups) ? input.filterGroups.map(asRecord) : [];
    const wanted = returnedProperties(input.properties);
    const matchers: Array<(contact: HubSpotContact) => boolean> = [];
    for (const group of groups) {
      const filters = Array.isArray(group?.filters) ? group.filters.map(asRecord) : [];
      const tests: Array<(contact: HubSpotContact) => boolean> = [];
      for (const filter of filters) {
        const test = filterTest(filter);
        if (typeof test === 'string') return hubspotError(400, 'VALIDATION_ERROR', test);
        tests.push(test);
      }
      matchers.push((contact) => tests.every((t) => t(contact)));
    }
    const matching = [...contacts.values()]
      .filter((contact) => matchers.length === 0 || matchers.some((m) => m(contact)))
      .sort((a, b) => Number(a.id) - Number(b.id));
    // Search pages with `after` as an offset and caps `limit` at 200 (search-the-crm docs).
    const limit = Math.min(Math.max(Number(input.limit ?? 10) || 10, 1), 200);
    const offset = Number(input.after ?? 0) || 0;
    const page = matching.slice(offset, offset + limit);
    const next = offset + limit < matching.length ? { paging: { next: { after: String(offset + limit) } } } : {};
    return { status: 200, body: { total: matching.length, results: page.map((c) => present(c, wanted)), ...next } };
  }

  function createContact(body: unknown): StubReply {
    const values = propertiesOf(body);
    if (typeof values === 'string') return hubspotError(400, 'VALIDATION_ERROR', values);
    const invalid = validateValues(values);
    if (invalid) return invalid;
    const email = values.email;
    const existing = email ? findBy('email', email) : undefined;
    if (existing) return hubspotError(409, 'CONFLICT', `Contact already exists. Existing ID: ${existing.id}`);
    const id = String(Math.max(0, ...[...contacts.keys()].map(Number).filter(Number.isFinite)) + 1);
    const now = new Date().toISOString();
    const contact: HubSpotContact = {
      id,
      properties: { ...withoutEmpty(values), createdate: now, lastmodifieddate: now, hs_object_id: id },
    };
    contacts.set(id, contact);
    return { status: 201, body: present(contact) };
  }

  function getContact(idOrValue: string, url: URL): StubReply {
    const contact = lookUp(idOrValue, url);
    if (!contact) return objectNotFound();
    const wanted = url.searchParams.get('properties');
    return { status: 200, body: present(contact, wanted ? wanted.split(',') : DEFAULT_RETURNED) };
  }

  function updateContact(idOrValue: string, url: URL, body: unknown): StubReply {
    const contact = lookUp(idOrValue, url);
    if (!contact) return objectNotFound();
    const values = propertiesOf(body);
    if (typeof values === 'string') return hubspotError(400, 'VALIDATION_ERROR', values);
    const invalid = validateValues(values);
    if (invalid) return invalid;
    const other = values.email ? findBy('email', values.email) : undefined;
    if (other && other.id !== contact.id) return hubspotError(409, 'CONFLICT', `Contact already exists. Existing ID: ${other.id}`);
    for (const [name, value] of Object.entries(values)) {
      if (value === '') delete contact.properties[name];
      else contact.properties[name] = value;
    }
    contact.properties.lastmodifieddate = new Date().toISOString();
    return { status: 200, body: present(contact) };
  }

  function getProperty(name: string): StubReply {
    const custom = properties.get(name);
    if (custom) return { status: 200, body: custom };
    if (BUILT_IN_PROPERTIES.has(name)) return { status: 200, body: builtInProperty(name) };
    return hubspotError(404, 'OBJECT_NOT_FOUND', `Unable to find property with name ${name}`);
  }

  function createProperty(body: unknown): StubReply {
    const input = asRecord(body);
    if (!input) return hubspotError(400, 'VALIDATION_ERROR', 'Invalid input JSON on line 1');
    const missing = ['name', 'label', 'type', 'fieldType', 'groupName'].filter((field) => typeof input[field] !== 'string' || input[field] === '');
    if (missing.length > 0) {
      return hubspotError(400, 'VALIDATION_ERROR', 'Invalid input: required fields are missing', {
        errors: missing.map((field) => ({ message: `${field} is required`, in: field, code: 'REQUIRED_FIELD' })),
      });
    }
    const name = String(input.name);
    if (!PROPERTY_TYPES.has(String(input.type))) return hubspotError(400, 'VALIDATION_ERROR', `Invalid property type: ${String(input.type)}`);
    if (!FIELD_TYPES.has(String(input.fieldType))) return hubspotError(400, 'VALIDATION_ERROR', `Invalid fieldType: ${String(input.fieldType)}`);
    if (properties.has(name) || BUILT_IN_PROPERTIES.has(name)) {
      return hubspotError(409, 'OBJECT_ALREADY_EXISTS', `Property named '${name}' already exists.`);
    }
    const now = new Date().toISOString();
    const property = {
      description: '',
      options: [],
      displayOrder: -1,
      formField: false,
      hasUniqueValue: false,
      hidden: false,
      ...input,
      createdAt: now,
      updatedAt: now,
      archived: false,
      calculated: false,
      externalOptions: false,
      modificationMetadata: { archivable: true, readOnlyDefinition: false, readOnlyValue: false },
    };
    properties.set(name, property);
    return { status: 201, body: property };
  }

  // `idProperty` names a unique-value property to look the contact up by instead of its id.
  function lookUp(idOrValue: string, url: URL): HubSpotContact | undefined {
    const idProperty = url.searchParams.get('idProperty');
    return idProperty ? findBy(idProperty, idOrValue) : contacts.get(idOrValue);
  }

  function findBy(property: string, value: string): HubSpotContact | undefined {
    const wanted = comparable(property, value);
    return [...contacts.values()].find((c) => c.properties[property] !== undefined && comparable(property, c.properties[property]) === wanted);
  }

  // One 400 for every property that cannot be written, in the shape HubSpot uses for it.
  function validateValues(values: Record<string, string>): StubReply | null {
    const problems = Object.keys(values).flatMap((name) => {
      if (READ_ONLY_PROPERTIES.has(name)) return [{ isValid: false, message: `${name} is a read only property; its value cannot be set.`, error: 'READ_ONLY_VALUE', name }];
      if (!BUILT_IN_PROPERTIES.has(name) && !properties.has(name)) return [{ isValid: false, message: `Property "${name}" does not exist`, error: 'PROPERTY_DOESNT_EXIST', name }];
      return [];
    });
    if (problems.length === 0) return null;
    return hubspotError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(problems)}`);
  }

  return {
    ...server,
    contacts,
    properties,
    setToken: (next) => void (token = next),
  };
}

/**
 * The X-HubSpot-Signature-v3 value HubSpot sends with a request: base64 of HMAC-SHA256, keyed with
 * the app's client secret, over method + uri + body + timestamp (the X-HubSpot-Request-Timestamp
 * value, milliseconds). `uri` is the full URL (https://host/path?query). Per HubSpot's validating
 * requests page, the percent-encodings in DECODED_IN_URI are decoded first (and nothing else, so
 * %20 or %26 stay encoded); decoding an already-decoded URL changes nothing.
 */
export function hubspotSignatureV3(clientSecret: string, method: string, uri: string, body: string, timestamp: number): string {
  return createHmac('sha256', clientSecret).update(`${method}${decodeForSignature(uri)}${body}${timestamp}`, 'utf8').digest('base64');
}

// The table in HubSpot's "Validate the v3 request signature" section.
const DECODED_IN_URI: Record<string, string> = {
  '%3A': ':', '%2F': '/', '%3F': '?', '%40': '@', '%21': '!', '%24': '$',
  '%27': "'", '%28': '(', '%29': ')', '%2A': '*', '%2C': ',', '%3B': ';',
};

function decodeForSignature(uri: string): string {
  // Hex digits in a percent-encoding may be either case (RFC 3986), so match both.
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (encoded) => DECODED_IN_URI[encoded.toUpperCase()]);
}

export interface HubSpotPropertyChange {
  /** The contact id; HubSpot sends it as a number in webhooks, though the REST API uses strings. */
  objectId: number | string;
  propertyName: string;
  propertyValue: string;
  occurredAt?: number;
  eventId?: number;
  subscriptionId?: number;
  portalId?: number;
  appId?: number;
  attemptNumber?: number;
  changeSource?: string;
  sourceId?: string;
}

export interface HubSpotWebhookEvent {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: 'contact.propertyChange';
  attemptNumber: number;
  objectId: number;
  propertyName: string;
  propertyValue: string;
  changeSource: string;
  sourceId?: string;
}

let nextEventId = 1;

/**
 * The body HubSpot POSTs for contact.propertyChange subscriptions: always a JSON array (HubSpot
 * batches up to 100 events in one request), one event per change given. Times are epoch milliseconds.
 */
export function hubspotPropertyChangeEvent(...changes: HubSpotPropertyChange[]): HubSpotWebhookEvent[] {
  return changes.map((change) => ({
    eventId: change.eventId ?? nextEventId++,
    subscriptionId: change.subscriptionId ?? 12345,
    portalId: change.portalId ?? 62515,
    appId: change.appId ?? 54321,
    occurredAt: change.occurredAt ?? Date.now(),
    subscriptionType: 'contact.propertyChange',
    attemptNumber: change.attemptNumber ?? 0,
    objectId: Number(change.objectId),
    propertyName: change.propertyName,
    propertyValue: change.propertyValue,
    changeSource: change.changeSource ?? 'CRM',
    ...(change.sourceId === undefined ? {} : { sourceId: change.sourceId }),
  }));
}

/** A webhook delivery as HubSpot would sign it: the exact body string and its headers. */
export function hubspotSignedDelivery(clientSecret: string, url: string, events: HubSpotWebhookEvent[], timestamp = Date.now()): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(events);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-hubspot-signature-v3': hubspotSignatureV3(clientSecret, 'POST', url, body, timestamp),
      'x-hubspot-request-timestamp': String(timestamp),
    },
  };
}

function present(contact: HubSpotContact, wanted?: string[]) {
  const all = contact.properties;
  const shown: Record<string, string | null> = {};
  if (wanted) for (const name of new Set([...wanted, 'createdate', 'hs_object_id', 'lastmodifieddate'])) shown[name] = all[name] ?? null;
  const now = new Date().toISOString();
  return {
    id: contact.id,
    properties: wanted ? shown : { ...all, hs_object_id: contact.id },
    createdAt: all.createdate ?? now,
    updatedAt: all.lastmodifieddate ?? all.createdate ?? now,
    archived: false,
  };
}

function returnedProperties(requested: unknown): string[] {
  return Array.isArray(requested) && requested.length > 0 ? requested.map(String) : DEFAULT_RETURNED;
}

// Search supports the operators a connector needs for matching; others are refused, not ignored.
function filterTest(filter: Record<string, unknown> | null): ((contact: HubSpotContact) => boolean) | string {
  const name = typeof filter?.propertyName === 'string' ? filter.propertyName : '';
  const operator = filter?.operator;
  const value = filter?.value === undefined ? undefined : comparable(name, String(filter.value));
  const current = (c: HubSpotContact) => (c.properties[name] === undefined ? undefined : comparable(name, c.properties[name]));
  if (!name) return 'A filter needs a propertyName';
  switch (operator) {
    case 'EQ': return (c) => current(c) === value;
    case 'NEQ': return (c) => current(c) !== value;
    case 'HAS_PROPERTY': return (c) => current(c) !== undefined;
    case 'NOT_HAS_PROPERTY': return (c) => current(c) === undefined;
    case 'IN': {
      const values = Array.isArray(filter?.values) ? filter.values.map((v) => comparable(name, String(v))) : [];
      return (c) => values.includes(current(c) ?? '');
    }
    default: return `The stub does not support the filter operator ${String(operator)}`;
  }
}

// HubSpot stores and matches email addresses without regard to case.
function comparable(property: string, value: string): string {
  return property === 'email' ? value.toLowerCase() : value;
}

function propertiesOf(body: unknown): Record<string, string> | string {
  const input = asRecord(body);
  const values = asRecord(input?.properties);
  if (!values) return 'Invalid input: the request needs a properties object';
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) out[name] = value === null ? '' : comparable(name, String(value));
  return out;
}

function withoutEmpty(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== ''));
}

function builtInProperty(name: string) {
  return {
    name, label: name, type: 'string', fieldType: 'text', groupName: 'contactinformation', description: '',
    options: [], displayOrder: -1, formField: false, hasUniqueValue: false, hidden: false, calculated: false,
    externalOptions: false, hubspotDefined: true, archived: false,
    modificationMetadata: { archivable: false, readOnlyDefinition: true, readOnlyValue: READ_ONLY_PROPERTIES.has(name) },
  };
}

function hubspotError(status: number, category: string, message: string, extra: Record<string, unknown> = {}): StubReply {
  return { status, body: { status: 'error', message, correlationId: randomUUID(), category, ...extra } };
}

function objectNotFound(): StubReply {
  return hubspotError(404, 'OBJECT_NOT_FOUND', 'resource not found');
}

function notFound(): StubReply {
  return { status: 404, body: { status: 'error', message: 'Not found: no such endpoint in the HubSpot stub', correlationId: randomUUID() } };
}





