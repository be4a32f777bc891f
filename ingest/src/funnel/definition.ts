// Funnel definitions (CONTRACT.md, "Funnel definition"): validation, normalisation and the
// step matcher. Pure: the route validates with `funnelDefinitionSchema`, then parses.
import type { PropValue } from '../event.js';

export interface StepDefinition {
  name: string;
  /** Event name, as on the wire; `pageview` for page steps. */
  event: string;
  /** URL path pattern: `*` stands for any run of characters (also none, also `/`). */
  path?: string;
  /** Property conditions: the event's property must equal the value, compared as strings. */
  props?: Record<string, string>;
  /** Steps after the first: at most this long after the step before (besides the funnel's window). */
  within?: string;
}

/** How steps follow one another (CONTRACT.md, "Funnel definition: ordering, exclusions, step time limits"). */
export const ORDERS = ['sequential', 'strict', 'any'] as const;
export type FunnelOrder = (typeof ORDERS)[number];

/** An event that takes an entry out when it happens after step `between[0]` and before step `between[1]` (1-based). */
export interface ExclusionDefinition {
  event: string;
  path?: string;
  props?: Record<string, string>;
  between: [number, number];
}

export interface FunnelDefinition {
  name: string;
  /** `<n>m`, `<n>h` or `<n>d`, from 1 minute to 90 days. */
  window: string;
  /** Left out: `sequential` (a definition without it means what it always meant). */
  order?: FunnelOrder;
  steps: StepDefinition[];
  exclusions?: ExclusionDefinition[];
}

/** What an event is matched against: a step's or an exclusion's event, path and props. */
export interface EventMatcher {
  event: string;
  props?: Record<string, string>;
  /** The compiled `path`, anchored at both ends; null when there is none. */
  pathPattern: RegExp | null;
}

export interface ParsedStep extends StepDefinition, EventMatcher {
  /** `within` in ms; null without one. */
  withinMs: number | null;
}

export interface ParsedExclusion extends ExclusionDefinition, EventMatcher {}

/** A validated, normalised definition (`definition` is what a store keeps). */
export interface ParsedFunnel {
  definition: FunnelDefinition;
  name: string;
  window: string;
  windowMs: number;
  order: FunnelOrder;
  steps: ParsedStep[];
  exclusions: ParsedExclusion[];
}

export type ParseResult = { ok: true; funnel: ParsedFunnel } | { ok: false; error: string; field: string };

export const MIN_STEPS = 2;
export const MAX_STEPS = 20;
export const MAX_NAME_LENGTH = 100;
export const MAX_PATH_LENGTH = 2048;
export const MAX_PROPS = 30;
export const MAX_PROP_KEY_LENGTH = 64;
export const MAX_PROP_VALUE_LENGTH = 256;
export const MIN_WINDOW_MS = 60_000;
export const MAX_WINDOW_MS = 90 * 86_400_000;
export const MAX_EXCLUSIONS = 10;

/** The wire format's event names (CONTRACT.md, "Ingestion"). */
const EVENT_NAME = /^[A-Za-z0-9_.:\- ]{1,64}$/;
// A name shows in the dashboard: at least one character that is not blank.
const NAME = /\S/;
const WINDOW = /^(\d{1,7})(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
// A path is printable and has no whitespace, like the sanitised paths the collector stores.
const PATH = /^\/[^\s\u0000-\u001f\u007f]*$/;

/** JSON schema of a definition, for the route (Fastify/ajv); `parseFunnelDefinition` applies the same rules and more (window bounds). */
export const funnelDefinitionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'window', 'steps'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH, pattern: NAME.source },
    window: { type: 'string', pattern: WINDOW.source },
    order: { type: 'string', enum: [...ORDERS] },
    exclusions: {
      type: 'array',
      maxItems: MAX_EXCLUSIONS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['event', 'between'],
        properties: {
          event: { type: 'string', pattern: EVENT_NAME.source },
          path: { type: 'string', maxLength: MAX_PATH_LENGTH, pattern: PATH.source },
          props: { type: 'object', maxProperties: MAX_PROPS },
          between: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'integer', minimum: 1, maximum: MAX_STEPS } },
        },
      },
    },
    steps: {
      type: 'array',
      minItems: MIN_STEPS,
      maxItems: MAX_STEPS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'event'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH, pattern: NAME.source },
          event: { type: 'string', pattern: EVENT_NAME.source },
          path: { type: 'string', maxLength: MAX_PATH_LENGTH, pattern: PATH.source },
          within: { type: 'string', pattern: WINDOW.source },
          props: {
            type: 'object',
            maxProperties: MAX_PROPS,
            propertyNames: { type: 'string', minLength: 1, maxLength: MAX_PROP_KEY_LENGTH },
            additionalProperties: {
              anyOf: [{ type: 'string', maxLength: MAX_PROP_VALUE_LENGTH }, { type: 'number' }, { type: 'boolean' }],
            },
          },
        },
      },
    },
  },
} as const;

/** Milliseconds of a window such as `30m`, `12h`, `7d`; null when malformed or outside 1m..90d. */
export function parseWindow(window: string): number | null {
  const match = WINDOW.exec(window);
  if (!match) return null;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return ms >= MIN_WINDOW_MS && ms <= MAX_WINDOW_MS ? ms : null;
}

/** Compiles a path pattern: `*` is any run of characters, everything else is literal. */
export function compilePathPattern(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((literal) => literal.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's');
}

/** Validates and normalises a definition (property values become strings). */
export function parseFunnelDefinition(input: unknown): ParseResult {
  const fail = (field: string, error: string): ParseResult => ({ ok: false, error, field });
  if (!isRecord(input)) return fail('', 'a funnel definition must be an object');
  const unknownKey = Object.keys(input).find((key) => !['name', 'window', 'order', 'steps', 'exclusions'].includes(key));
  if (unknownKey !== undefined) return fail(unknownKey, `unknown field "${unknownKey}"`);

  const { name, window, steps } = input;
  if (input.order !== undefined && !(ORDERS as readonly unknown[]).includes(input.order)) {
    return fail('order', `order must be one of ${ORDERS.join(', ')}`);
  }
  const order = (input.order ?? 'sequential') as FunnelOrder;
  if (!isName(name)) return fail('name', `name must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
  if (typeof window !== 'string') return fail('window', 'window must be a string such as "30m", "12h" or "7d"');
  const windowMs = parseWindow(window);
  if (windowMs === null) return fail('window', 'window must be <n>m, <n>h or <n>d, from 1m to 90d');
  if (!Array.isArray(steps) || steps.length < MIN_STEPS || steps.length > MAX_STEPS) {
    return fail('steps', `steps must be an array of ${MIN_STEPS} to ${MAX_STEPS} steps`);
  }

  const parsed: ParsedStep[] = [];
  for (const [index, step] of steps.entries()) {
    const field = `steps[${index}]`;
    if (!isRecord(step)) return fail(field, 'a step must be an object');
    const unknownStepKey = Object.keys(step).find((key) => !['name', 'event', 'path', 'props', 'within'].includes(key));
    if (unknownStepKey !== undefined) return fail(`${field}.${unknownStepKey}`, `unknown field "${unknownStepKey}"`);
    if (!isName(step.name)) return fail(`${field}.name`, `name must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
    const matcher = parseMatcher(step, field);
    if ('error' in matcher) return fail(matcher.field, matcher.error);
    const result: ParsedStep = { name: step.name, ...matcher, withinMs: null };
    if (step.within !== undefined) {
      const withinMs = typeof step.within === 'string' ? parseWindow(step.within) : null;
      if (index === 0) return fail(`${field}.within`, 'within applies to the steps after the first');
      if (order === 'any') return fail(`${field}.within`, 'within needs steps in order (order sequential or strict)');
      if (withinMs === null) return fail(`${field}.within`, 'within must be <n>m, <n>h or <n>d, from 1m to 90d');
      if (withinMs > windowMs) return fail(`${field}.within`, `within may not be longer than the funnel's window (${window})`);
      result.within = step.within as string;
      result.withinMs = withinMs;
    }
    parsed.push(result);
  }

  const exclusions: ParsedExclusion[] = [];
  if (input.exclusions !== undefined) {
    if (!Array.isArray(input.exclusions) || input.exclusions.length > MAX_EXCLUSIONS) {
      return fail('exclusions', `exclusions must be an array of at most ${MAX_EXCLUSIONS}`);
    }
    for (const [index, exclusion] of input.exclusions.entries()) {
      const field = `exclusions[${index}]`;
      if (!isRecord(exclusion)) return fail(field, 'an exclusion must be an object');
      const unknown = Object.keys(exclusion).find((key) => !['event', 'path', 'props', 'between'].includes(key));
      if (unknown !== undefined) return fail(`${field}.${unknown}`, `unknown field "${unknown}"`);
      const matcher = parseMatcher(exclusion, field);
      if ('error' in matcher) return fail(matcher.field, matcher.error);
      const between = exclusion.between;
      if (!Array.isArray(between) || between.length !== 2 || !between.every((k) => Number.isInteger(k))
        || between[0] < 1 || between[1] > parsed.length || between[0] >= between[1]) {
        return fail(`${field}.between`, `between must be [a, b]: two step numbers, 1 <= a < b <= ${parsed.length}`);
      }
      exclusions.push({ ...matcher, between: [between[0], between[1]] });
    }
  }

  // Only what was given: a definition without the new fields keeps its form (and its version).
  const definition: FunnelDefinition = {
    name,
    window,
    ...(input.order !== undefined ? { order } : {}),
    steps: parsed.map(({ pathPattern: _, withinMs: __, ...step }) => step),
    ...(input.exclusions !== undefined ? { exclusions: exclusions.map(({ pathPattern: _, ...exclusion }) => exclusion) } : {}),
  };
  return { ok: true, funnel: { definition, name, window, windowMs, order, steps: parsed, exclusions } };
}

/** A step's or an exclusion's event, path and props, checked; `field` names where it sits. */
function parseMatcher(input: Record<string, unknown>, field: string): (EventMatcher & { path?: string }) | { error: string; field: string } {
  if (typeof input.event !== 'string' || !EVENT_NAME.test(input.event)) {
    return { field: `${field}.event`, error: 'event must be 1 to 64 of A-Za-z0-9_.:- and space' };
  }
  const result: EventMatcher & { path?: string } = { event: input.event, pathPattern: null };
  if (input.path !== undefined) {
    if (typeof input.path !== 'string' || input.path.length > MAX_PATH_LENGTH || !PATH.test(input.path)) {
      return { field: `${field}.path`, error: 'path must start with "/" and hold no whitespace (use * for any run of characters)' };
    }
    result.path = input.path;
    result.pathPattern = compilePathPattern(input.path);
  }
  if (input.props !== undefined) {
    const props = parseProps(input.props);
    if (typeof props === 'string') return { field: `${field}.props`, error: props };
    result.props = props;
  }
  return result;
}

/** A definition a store kept (validated before it was stored); one that no longer parses is a bug. */
export function parseStoredFunnel(definition: FunnelDefinition): ParsedFunnel {
  const result = parseFunnelDefinition(definition);
  if (!result.ok) throw new Error(`stored funnel no longer valid: ${result.field}: ${result.error}`);
  return result.funnel;
}

/** Does the event satisfy the step: same name, path matching the pattern, every property equal (as strings)? */
export function stepMatches(
  step: EventMatcher,
  event: { name: string; path: string; props: Record<string, PropValue> | null },
): boolean {
  if (event.name !== step.event) return false;
  if (step.pathPattern && !step.pathPattern.test(event.path)) return false;
  if (step.props) {
    for (const [key, value] of Object.entries(step.props)) {
      const actual = event.props && Object.hasOwn(event.props, key) ? event.props[key] : undefined;
      if (actual === undefined || String(actual) !== value) return false;
    }
  }
  return true;
}

/**
 * Property conditions ({ key: value }, values kept as strings): the conditions, or what is
 * wrong with them. Funnel steps and lead-scoring rules share them.
 */
export function parseProps(input: unknown, options: { atLeastOne?: boolean } = {}): Record<string, string> | string {
  if (!isRecord(input)) return 'props must be an object of property conditions';
  const entries = Object.entries(input);
  if (options.atLeastOne && entries.length === 0) return `props must hold 1 to ${MAX_PROPS} conditions`;
  if (entries.length > MAX_PROPS) return `props may hold at most ${MAX_PROPS} conditions`;
  const props: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (key.length < 1 || key.length > MAX_PROP_KEY_LENGTH) return `property names must be 1 to ${MAX_PROP_KEY_LENGTH} characters`;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      return `property "${key}" must be a string, number or boolean`;
    }
    if (typeof value === 'number' && !Number.isFinite(value)) return `property "${key}" must be a finite number`;
    const text = String(value);
    if (text.length > MAX_PROP_VALUE_LENGTH) return `property "${key}" must be at most ${MAX_PROP_VALUE_LENGTH} characters`;
    props[key] = text;
  }
  return props;
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= MAX_NAME_LENGTH && NAME.test(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
