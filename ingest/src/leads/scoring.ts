// Lead scoring rules of a site: validation, matching and the (decaying) score. Pure.
//
// Semantics:
// - A rule holds `points` (negative ones allowed: a careers page may mark a job seeker) and at
//   least one condition; every condition given must hold.
// - Event rules (any of `event`, `path`, `props`) score each matching event: `event` is the
//   event name, `path` the URL path pattern of funnels (`*` for any run of characters), `props`
//   property conditions compared as strings.
// - Attribution rules (only `channel`, `campaign` and/or `keywords`) score a visit, once: the
//   first event of each of the lead's visits that matches. `channel` and `campaign` compare
//   case-insensitively; `keywords` match whole words, case-insensitively, in the visit's
//   search or utm term and in its utm campaign.
// - With `decay: { halfLifeDays }`, points lose half their value every halfLifeDays after the
//   event that earned them: the score at time t is Σ points × 2^(−(t − ts) / halfLife).
// - The lead becomes an MQL when the score, right after an event, reaches `threshold`.
import type { PropValue } from '../event.js';
import { compilePathPattern, MAX_PATH_LENGTH, parseProps } from '../funnel/definition.js';

export interface ScoringRule {
  points: number;
  event?: string;
  path?: string;
  props?: Record<string, string>;
  channel?: string;
  campaign?: string;
  keywords?: string[];
}

/** What a site stores and the API reads and writes. */
export interface ScoringRules {
  threshold: number;
  rules: ScoringRule[];
  decay?: { halfLifeDays: number };
}

interface CompiledRule extends ScoringRule {
  pathPattern: RegExp | null;
  keywordPatterns: RegExp[];
  /** Scores a visit once rather than each event. */
  perVisit: boolean;
}

export interface ParsedScoringRules {
  definition: ScoringRules;
  threshold: number;
  halfLifeMs: number | null;
  rules: CompiledRule[];
}

export type ScoringParseResult = { ok: true; rules: ParsedScoringRules } | { ok: false; error: string; field: string };

/** The fields of an event that scoring reads. */
export interface ScoredEvent {
  name: string;
  path: string;
  props: Record<string, PropValue> | null;
  channel: string;
  campaign: string | null;
  term: string | null;
}

export const MAX_RULES = 100;
export const MAX_POINTS = 1_000_000;
export const MAX_KEYWORDS = 100;
const MAX_TEXT = 256;
const EVENT_NAME = /^[A-Za-z0-9_.:\- ]{1,64}$/;
const PATH = /^\/[^\s\u0000-\u001f\u007f]*$/;
/** Wildcards per path: each one more multiplies the backtracking a path can cost at ingest. */
const MAX_WILDCARDS = 8;
const RULE_KEYS = ['points', 'event', 'path', 'props', 'channel', 'campaign', 'keywords'];

/** Validates and compiles a site's scoring rules; the error names the field at fault. */
export function parseScoringRules(input: unknown): ScoringParseResult {
  const fail = (field: string, error: string): ScoringParseResult => ({ ok: false, error, field });
  if (!isRecord(input)) return fail('(body)', 'scoring must be an object { threshold, rules, decay? }');
  const unknownKey = Object.keys(input).find((key) => !['threshold', 'rules', 'decay'].includes(key));
  if (unknownKey !== undefined) return fail(unknownKey, `unknown field "${unknownKey}"`);
  const { threshold, rules, decay } = input;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold <= 0 || threshold > MAX_POINTS) {
    return fail('threshold', `threshold must be a number above 0 and at most ${MAX_POINTS}`);
  }
  let halfLifeMs: number | null = null;
  let halfLifeDays: number | undefined;
  if (decay !== undefined && decay !== null) {
    if (!isRecord(decay) || Object.keys(decay).some((key) => key !== 'halfLifeDays')) {
      return fail('decay', 'decay must be { "halfLifeDays": number }');
    }
    const days = decay.halfLifeDays;
    if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0 || days > 3650) {
      return fail('decay.halfLifeDays', 'halfLifeDays must be a number above 0 and at most 3650');
    }
    halfLifeDays = days;
    halfLifeMs = days * 86_400_000;
  }
  if (!Array.isArray(rules) || rules.length > MAX_RULES) return fail('rules', `rules must be an array of at most ${MAX_RULES} rules`);

  const compiled: CompiledRule[] = [];
  for (const [index, rule] of rules.entries()) {
    const field = `rules[${index}]`;
    if (!isRecord(rule)) return fail(field, 'a rule must be an object');
    const unknownRuleKey = Object.keys(rule).find((key) => !RULE_KEYS.includes(key));
    if (unknownRuleKey !== undefined) return fail(`${field}.${unknownRuleKey}`, `unknown field "${unknownRuleKey}"`);
    const { points } = rule;
    if (typeof points !== 'number' || !Number.isFinite(points) || Math.abs(points) > MAX_POINTS) {
      return fail(`${field}.points`, `points must be a number from -${MAX_POINTS} to ${MAX_POINTS}`);
    }
    const result: CompiledRule = { points, pathPattern: null, keywordPatterns: [], perVisit: false };
    if (rule.event !== undefined) {
      if (typeof rule.event !== 'string' || !EVENT_NAME.test(rule.event)) return fail(`${field}.event`, 'event must be 1 to 64 of A-Za-z0-9_.:- and space');
      result.event = rule.event;
    }
    if (rule.path !== undefined) {
      if (typeof rule.path !== 'string' || rule.path.length > MAX_PATH_LENGTH || !PATH.test(rule.path)) {
        return fail(`${field}.path`, 'path must start with "/" and hold no whitespace (use * for any run of characters)');
      }
      if (rule.path.split('*').length - 1 > MAX_WILDCARDS) return fail(`${field}.path`, `path may hold at most ${MAX_WILDCARDS} wildcards (*)`);
      result.path = rule.path;
      result.pathPattern = compilePathPattern(rule.path);
    }
    if (rule.props !== undefined) {
      const props = parseProps(rule.props, { atLeastOne: true });
      if (typeof props === 'string') return fail(`${field}.props`, props);
      result.props = props;
    }
    for (const key of ['channel', 'campaign'] as const) {
      const value = rule[key];
      if (value === undefined) continue;
      if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_TEXT) {
        return fail(`${field}.${key}`, `${key} must be a non-empty string of at most ${MAX_TEXT} characters`);
      }
      result[key] = value;
    }
    if (rule.keywords !== undefined) {
      const { keywords } = rule;
      if (!Array.isArray(keywords) || keywords.length === 0 || keywords.length > MAX_KEYWORDS) {
        return fail(`${field}.keywords`, `keywords must be an array of 1 to ${MAX_KEYWORDS} words or phrases`);
      }
      const bad = keywords.findIndex((k) => typeof k !== 'string' || !/[\p{L}\p{N}]/u.test(k) || k.length > MAX_TEXT);
      if (bad >= 0) return fail(`${field}.keywords[${bad}]`, 'a keyword must be a word or phrase of at most 256 characters');
      result.keywords = keywords as string[];
      result.keywordPatterns = (keywords as string[]).map(keywordPattern);
    }
    const perEvent = result.event !== undefined || result.path !== undefined || result.props !== undefined;
    const perVisit = result.channel !== undefined || result.campaign !== undefined || result.keywords !== undefined;
    if (!perEvent && !perVisit) return fail(field, 'a rule needs at least one of event, path, props, channel, campaign or keywords');
    result.perVisit = !perEvent;
    compiled.push(result);
  }

  const definition: ScoringRules = {
    threshold,
    rules: compiled.map(({ pathPattern: _p, keywordPatterns: _k, perVisit: _v, ...rule }) => rule),
    ...(halfLifeDays !== undefined ? { decay: { halfLifeDays } } : {}),
  };
  return { ok: true, rules: { definition, threshold, halfLifeMs, rules: compiled } };
}

/** A keyword or phrase as a whole-word, case-insensitive pattern ("spa" matches "Spa day", not "space"). */
function keywordPattern(keyword: string): RegExp {
  const words = keyword.trim().split(/\s+/).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`(?<![\\p{L}\\p{N}])${words.join('[\\s_+-]+')}(?![\\p{L}\\p{N}])`, 'iu');
}

function ruleMatches(rule: CompiledRule, event: ScoredEvent): boolean {
  if (rule.event !== undefined && event.name !== rule.event) return false;
  if (rule.pathPattern && !rule.pathPattern.test(event.path)) return false;
  if (rule.props) {
    for (const [key, value] of Object.entries(rule.props)) {
      const actual = event.props && Object.hasOwn(event.props, key) ? event.props[key] : undefined;
      if (actual === undefined || String(actual) !== value) return false;
    }
  }
  if (rule.channel !== undefined && event.channel.toLowerCase() !== rule.channel.toLowerCase()) return false;
  if (rule.campaign !== undefined && (event.campaign ?? '').toLowerCase() !== rule.campaign.toLowerCase()) return false;
  if (rule.keywordPatterns.length > 0) {
    const text = [event.term, event.campaign].filter((t): t is string => t !== null).join('\n');
    if (!rule.keywordPatterns.some((pattern) => pattern.test(text))) return false;
  }
  return true;
}

/**
 * Points an event earns. `visitAwarded` holds the indexes of the per-visit rules already
 * awarded in the event's visit; the ones this event earns are added to it.
 */
export function pointsFor(rules: ParsedScoringRules, event: ScoredEvent, visitAwarded: Set<number>): number {
  let points = 0;
  for (let i = 0; i < rules.rules.length; i++) {
    const rule = rules.rules[i];
    if (rule.perVisit && visitAwarded.has(i)) continue;
    if (!ruleMatches(rule, event)) continue;
    if (rule.perVisit) visitAwarded.add(i);
    points += rule.points;
  }
  return points;
}

/** A score as a value at a moment: with decay it shrinks as time passes. */
export interface Score {
  value: number;
  at: number;
}

/** The score carried from `score.at` to `at` (decay only; never before score.at). */
export function decayTo(score: Score, at: number, halfLifeMs: number | null): Score {
  if (at <= score.at) return score;
  if (halfLifeMs === null || score.value === 0) return { value: score.value, at };
  return { value: score.value * 2 ** (-(at - score.at) / halfLifeMs), at };
}

/**
 * Adds points earned at `ts`. An event older than the score (it arrived late) adds its points
 * decayed to the score's time, so the score never moves backwards in time.
 */
export function addPoints(score: Score, points: number, ts: number, halfLifeMs: number | null): Score {
  if (ts >= score.at) {
    const carried = decayTo(score, ts, halfLifeMs);
    return { value: carried.value + points, at: ts };
  }
  const late = halfLifeMs === null ? points : points * 2 ** (-(score.at - ts) / halfLifeMs);
  return { value: score.value + late, at: score.at };
}

/** Rounds a score for display (decay gives long fractions). */
export const roundScore = (value: number) => Math.round(value * 100) / 100;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
