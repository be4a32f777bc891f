// One line of an import (POST /api/sites/:site/import): a stored event as GET …/export writes it,
// checked with the limits of POST /api/event's wire format (eventSchema.ts) and cleaned by the
// same privacy rules before it is stored again. What a line leaves out is derived as at ingest.
import { Ajv, type ErrorObject } from 'ajv';
import { safeParse } from 'secure-json-parse';
import type { Attribution, PropValue, StoredEvent } from '../event.js';
import type { Site } from '../store/types.js';
import { classifyChannel } from '../enrich/channel.js';
import { redactEmails, redactProps, sanitizeReferrer, sanitizeUrl, type SanitizedUrl } from '../enrich/privacy.js';
import { leadId } from './enrichEvent.js';
import { SessionTracker } from './sessions.js';

/** A longer line is rejected unread: a stored event with 30 full properties is well under it. */
export const MAX_LINE_BYTES = 64 * 1024;
/** How far past the collector's clock an imported time may be (clock skew between machines). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** Times before 2000 are refused: most are seconds taken for milliseconds. */
export const MIN_IMPORTED_TS = Date.UTC(2000, 0, 1);
/** Visits open at once whose landing and attribution are derived (for lines without them). */
const MAX_OPEN_VISITS = 10_000;

// Stored values are the wire's after cleaning, which can lengthen them: `[email]` (7 characters)
// replaces an address of at least 6, and a URL's kept query is re-encoded (`:` → `%3A`).
const afterRedaction = (wireLimit: number) => Math.ceil((wireLimit * 7) / 6);
const MAX_STORED_URL = 8192;
const nullableText = (maxLength: number) => ({ type: ['string', 'null'], minLength: 1, maxLength }) as const;

export const importedEventSchema = {
  $id: 'importedEvent',
  type: 'object',
  required: ['name', 'url', 'ts', 'visitor'],
  // Unknown fields are dropped, not refused, as POST /api/event does: a newer collector's export still imports.
  additionalProperties: false,
  properties: {
    site: { type: 'string', minLength: 1, maxLength: 253 },
    id: nullableText(64),
    // Any number POST /api/event takes (older versions kept fractions: rounded as it rounds now), so an export imports back.
    client_ts: { type: 'number', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    ts: { type: 'integer', minimum: MIN_IMPORTED_TS, maximum: Number.MAX_SAFE_INTEGER },
    name: { type: 'string', pattern: '^[A-Za-z0-9_.:\\- ]{1,64}$' },
    visitor: { type: 'string', minLength: 1, maxLength: 128 },
    session: { type: 'string', minLength: 1, maxLength: 128 },
    lead: nullableText(128),
    url: { type: 'string', minLength: 1, maxLength: MAX_STORED_URL },
    path: { type: 'string', pattern: '^/', maxLength: MAX_STORED_URL },
    landing: { type: 'string', pattern: '^/', maxLength: MAX_STORED_URL },
    referrer: { type: ['string', 'null'], maxLength: MAX_STORED_URL },
    channel: { type: 'string', minLength: 1, maxLength: 64 },
    source: nullableText(2048),
    medium: nullableText(2048),
    campaign: nullableText(2048),
    term: nullableText(2048),
    content: nullableText(2048),
    browser: nullableText(128),
    os: nullableText(128),
    device: nullableText(128),
    props: {
      type: ['object', 'null'],
      maxProperties: 30,
      propertyNames: { minLength: 1, maxLength: afterRedaction(64) },
      additionalProperties: {
        anyOf: [{ type: 'string', maxLength: afterRedaction(500) }, { type: 'number' }, { type: 'boolean' }],
      },
    },
    revenue_amount: { type: ['number', 'null'], minimum: -1e12, maximum: 1e12 },
    revenue_currency: { type: ['string', 'null'], pattern: '^[A-Z]{3}$' },
    engaged_ms: { type: ['integer', 'null'], minimum: 0, maximum: 86_400_000 },
    scroll: { type: ['number', 'null'], minimum: 0, maximum: 100 },
    variant: nullableText(afterRedaction(64)),
  },
} as const;

/** A line after schema validation: the stored shape, with what can be derived left optional. */
interface ImportedLine {
  site?: string;
  id?: string | null;
  client_ts?: number;
  ts: number;
  name: string;
  visitor: string;
  session?: string;
  lead?: string | null;
  url: string;
  path?: string;
  landing?: string;
  referrer?: string | null;
  channel?: string;
  source?: string | null;
  medium?: string | null;
  campaign?: string | null;
  term?: string | null;
  content?: string | null;
  browser?: string | null;
  os?: string | null;
  device?: string | null;
  props?: Record<string, PropValue> | null;
  revenue_amount?: number | null;
  revenue_currency?: string | null;
  engaged_ms?: number | null;
  scroll?: number | null;
  variant?: string | null;
}

export interface LineRejection {
  error: string;
  /** The field at fault (`props.plan`), or `(line)` when the line as a whole is. */
  field: string;
  /** The line is a JSON object: the body is NDJSON, this one line is wrong. */
  object: boolean;
}

export type CleanedLine = { event: StoredEvent } | LineRejection;

const ajv = new Ajv({ removeAdditional: true, allErrors: false, coerceTypes: false, strict: false });
const validateLine = ajv.compile<ImportedLine>(importedEventSchema);

function describe(error: ErrorObject): LineRejection {
  const path = error.instancePath.split('/').filter(Boolean).join('.');
  const missing = error.keyword === 'required' ? String(error.params.missingProperty) : '';
  const field = [path, missing].filter(Boolean).join('.') || '(line)';
  const what = missing ? 'is required' : error.message ?? 'is invalid';
  return { field, error: `${field === '(line)' ? 'line' : field} ${what}`, object: true };
}

/** The line as a JSON object, parsed without letting `__proto__` or `constructor.prototype` keys through. */
function parseObject(text: string): { value: object } | LineRejection {
  const value: unknown = safeParse(text);
  if (value === undefined) return { error: 'line is not valid JSON', field: '(line)', object: false };
  if (value === null && text.trim() !== 'null') {
    return { error: 'line has a __proto__ or constructor.prototype key', field: '(line)', object: false };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: 'line must be a JSON object (one event)', field: '(line)', object: false };
  }
  return { value };
}

const rejected = (field: string, error: string): LineRejection => ({ field, error, object: true });

/**
 * Validates and cleans the lines of one import into one site. Lines without `session`,
 * `landing` or `channel` get them from their visit as ingestion would: the lines must then
 * come in time order, as an export writes them.
 */
export class ImportedEventCleaner {
  private readonly visits = new SessionTracker(MAX_OPEN_VISITS);

  constructor(private readonly site: Site) {}

  /** The stored event of one line of text, or why the line is rejected. `now` bounds its time. */
  clean(text: string, now: number): CleanedLine {
    const parsed = parseObject(text);
    if (!('value' in parsed)) return parsed;
    const line = parsed.value;
    if (!validateLine(line)) return describe(validateLine.errors![0]);
    return this.stored(line, now);
  }

  private stored(line: ImportedLine, now: number): CleanedLine {
    const domain = this.site.domain;
    if (line.site !== undefined && line.site !== domain) return rejected('site', `site must be ${domain}, the site imported into`);
    if (line.ts > now + MAX_CLOCK_SKEW_MS) return rejected('ts', 'ts is in the future');
    const page = sanitizeUrl(line.url, this.site.allowedParams);
    if (!page) return rejected('url', 'url must be an absolute http(s) URL');
    if (line.path !== undefined && redactEmails(line.path) !== page.path) return rejected('path', 'path must be the path of url');
    const amount = line.revenue_amount ?? null;
    const currency = line.revenue_currency ?? null;
    if ((amount === null) !== (currency === null)) {
      return rejected(amount === null ? 'revenue_amount' : 'revenue_currency', 'revenue_amount and revenue_currency come together');
    }

    const visit = line.session === undefined || line.landing === undefined || line.channel === undefined ? this.visitOf(line, page) : null;
    const attribution: Attribution = line.channel === undefined ? visit!.attribution : {
      channel: line.channel,
      source: redactedOrNull(line.source),
      medium: redactedOrNull(line.medium),
      campaign: redactedOrNull(line.campaign),
      term: redactedOrNull(line.term),
      content: redactedOrNull(line.content),
    };
    return {
      event: {
        site: domain,
        id: line.id ?? null,
        // An imported event's own time is its client time: the de-duplication key of a re-import.
        client_ts: Math.round(line.client_ts ?? line.ts),
        ts: line.ts,
        name: line.name,
        visitor: line.visitor,
        session: line.session ?? visit!.id,
        lead: leadId(line.lead ?? undefined),
        url: page.url,
        path: page.path,
        landing: line.landing === undefined ? visit!.landing : redactEmails(line.landing),
        referrer: sanitizeReferrer(line.referrer ?? undefined),
        ...attribution,
        browser: line.browser ?? null,
        os: line.os ?? null,
        device: line.device ?? null,
        props: line.props ? redactProps(line.props) : null,
        revenue_amount: amount,
        revenue_currency: currency,
        engaged_ms: line.engaged_ms ?? null,
        scroll: line.scroll ?? null,
        variant: line.variant ? redactEmails(line.variant) : null,
      },
    };
  }

  /** The visit a line belongs to, as POST /api/event keys it: the client's session, else the visitor. */
  private visitOf(line: ImportedLine, page: SanitizedUrl) {
    const attribution = classifyChannel({ referrer: line.referrer ?? null, utm: page.utm, siteHost: page.host, gclid: page.gclid });
    const key = line.session === undefined ? `v\n${line.visitor}` : `s\n${line.session}`;
    return this.visits.visit(key, line.ts, page.path, attribution, line.session);
  }
}

function redactedOrNull(text: string | null | undefined): string | null {
  return text === undefined || text === null ? null : redactEmails(text);
}
