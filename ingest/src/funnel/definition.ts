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
}

export interface FunnelDefinition {
  name: string;
  /** `<n>m`, `<n>h` or `<n>d`, from 1 minute to 90 days. */
  window: string;
  steps: StepDefinition[];
}

export interface ParsedStep extends StepDefinition {
  /** The compiled `path`, anchored at both ends; null when the step has no path. */
  pathPattern: RegExp | null;
}

/** A validated, normalised definition (`definition` is what a store keeps). */
export interface ParsedFunnel {
  definition: FunnelDefinition;
  name: string;
  window: string;
  windowMs: number;
  steps: ParsedStep[];
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
  const unknownKey = Object.keys(input).find((key) => !['name', 'window', 'steps'].includes(key));
  if (unknownKey !== undefined) return fail(unknownKey, `unknown field "${unknownKey}"`);

  const { name, window, steps } = input;
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
    const unknownStepKey = Object.keys(step).find((key) => !['name', 'event', 'path', 'props'].includes(key));
    if (unknownStepKey !== undefined) return fail(`${field}.${unknownStepKey}`, `unknown field "${unknownStepKey}"`);
    if (!isName(step.name)) return fail(`${field}.name`, `name must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
    if (typeof step.event !== 'string' || !EVENT_NAME.test(step.event)) {
      return fail(`${field}.event`, 'event must be 1 to 64 of A-Za-z0-9_.:- and space');
    }
    const result: ParsedStep = { name: step.name, event: step.event, pathPattern: null };
    if (step.path !== undefined) {
      if (typeof step.path !== 'string' || step.path.length > MAX_PATH_LENGTH || !PATH.test(step.path)) {
        return fail(`${field}.path`, 'path must start with "/" and hold no whitespace (use * for any run of characters)');
      }
      result.path = step.path;
      result.pathPattern = compilePathPattern(step.path);
    }
    if (step.props !== undefined) {
      const props = parseProps(step.props);
      if (typeof props === 'string') return fail(`${field}.props`, props);
      result.props = props;
    }
    parsed.push(result);
  }

  const definition: FunnelDefinition = {
    name,
    window,
    steps: parsed.map(({ pathPattern: _, ...step }) => step),
  };
  return { ok: true, funnel: { definition, name, window, windowMs, steps: parsed } };
}

/** A definition a store kept (validated before it was stored); one that no longer parses is a bug. */
export function parseStoredFunnel(definition: FunnelDefinition): ParsedFunnel {
  const result = parseFunnelDefinition(definition);
  if (!result.ok) throw new Error(`stored funnel no longer valid: ${result.field}: ${result.error}`);
  return result.funnel;
}

/** Does the event satisfy the step: same name, path matching the pattern, every property equal (as strings)? */
export function stepMatches(
  step: ParsedStep,
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
