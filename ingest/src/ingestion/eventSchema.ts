// The wire format of POST /api/event as a JSON schema, and the validator that turns its
// first failure into the contract's { error, field } reply.
import { Ajv, type ErrorObject } from 'ajv';
import type { IncomingEvent } from '../event.js';
import { takeHeatmap, type HeatmapChunk } from '../heatmaps/capture.js';

export const MAX_BATCH = 100;

const shortText = { type: 'string', minLength: 1, maxLength: 128 } as const;

export const incomingEventSchema = {
  $id: 'incomingEvent',
  type: 'object',
  required: ['site', 'name', 'url'],
  // Unknown fields are dropped, not refused: older collectors keep taking newer snippets.
  additionalProperties: false,
  properties: {
    site: { type: 'string', minLength: 1, maxLength: 253 },
    name: { type: 'string', pattern: '^[A-Za-z0-9_.:\\- ]{1,64}$' },
    url: { type: 'string', minLength: 1, maxLength: 2048 },
    referrer: { type: 'string', maxLength: 2048 },
    id: { type: 'string', minLength: 1, maxLength: 64 },
    ts: { type: 'number', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    session: shortText,
    visitor: shortText,
    lead: shortText,
    props: {
      type: 'object',
      maxProperties: 30,
      propertyNames: { minLength: 1, maxLength: 64 },
      additionalProperties: {
        anyOf: [{ type: 'string', maxLength: 500 }, { type: 'number' }, { type: 'boolean' }],
      },
    },
    revenue: {
      type: 'object',
      required: ['amount', 'currency'],
      additionalProperties: false,
      properties: {
        amount: { type: 'number', minimum: -1e12, maximum: 1e12 },
        currency: { type: 'string', pattern: '^[A-Z]{3}$' },
      },
    },
    engaged_ms: { type: 'integer', minimum: 0, maximum: 86_400_000 },
    scroll: { type: 'number', minimum: 0, maximum: 100 },
    variant: { type: 'string', minLength: 1, maxLength: 64 },
    /** The lead's e-mail, for the site's CRM connectors only: never stored with the event. */
    email: { type: 'string', minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' },
    /** Set by the snippet when navigator.webdriver is true: an automated browser. */
    wd: { type: 'boolean' },
  },
} as const;

export interface EventValidationError {
  error: string;
  field: string;
}

/** `heatmap`: the click and scroll data of the capture file, checked on its own (heatmaps/capture.ts). */
export type WireEvent = IncomingEvent & { wd?: boolean; heatmap?: HeatmapChunk };

const ajv = new Ajv({ removeAdditional: true, allErrors: false, coerceTypes: false, strict: false });
const validateOne = ajv.compile<WireEvent>(incomingEventSchema);

function describe(error: ErrorObject, prefix: string): EventValidationError {
  const path = error.instancePath.split('/').filter(Boolean).join('.');
  const missing = error.keyword === 'required' ? String(error.params.missingProperty) : '';
  const field = [prefix, path, missing].filter(Boolean).join('.');
  const what = error.keyword === 'additionalProperties' ? 'has an unknown field' : error.message ?? 'is invalid';
  return { field: field || '(body)', error: `${field || 'event'} ${what}` };
}

/** Validates a parsed body: one event or a batch of 1..100. */
export function validateEvents(body: unknown): { events: WireEvent[] } | EventValidationError {
  const batch = Array.isArray(body);
  const list: unknown[] = batch ? (body as unknown[]) : [body];
  if (batch && (list.length === 0 || list.length > MAX_BATCH)) {
    return { field: '(body)', error: `a batch holds 1 to ${MAX_BATCH} events` };
  }
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      return { field: batch ? String(i) : '(body)', error: 'an event must be a JSON object' };
    }
    // Heatmap data is dropped field by field rather than refused: the event itself still counts.
    const heatmap = takeHeatmap(item as Record<string, unknown>);
    if (!validateOne(item)) return describe(validateOne.errors![0], batch ? String(i) : '');
    if (heatmap) (item as WireEvent).heatmap = heatmap;
  }
  return { events: list as WireEvent[] };
}
