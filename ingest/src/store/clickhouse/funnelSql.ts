// The funnel engine in ClickHouse SQL: one query matches every unit's entries into a funnel
// and counts the facts of their journeys (funnel/facts.ts), so a report never moves raw events
// out of ClickHouse. The semantics are those of funnel/entries.ts and funnel/journey.ts, step
// for step; the conformance suite holds the two to the same numbers.
//
// 18.16 has no window functions and no arrayFold, so the sequential parts are written with
// arrays (each unit's events are one row of arrays, in time order):
// - "first position at or after i matching step k" is a prefix count of step-k matches
//   indexing the list of their positions;
// - "how many of these sorted values are <= each threshold" merges both lists in one sort;
// - the chain of entries (the first step-1 event, then the first one after its window, and so
//   on) follows `next` pointers by doubling: the chain's first 2^j nodes, mapped through
//   next^(2^j), give the following 2^j. B doublings cover any chain of 2^B entries, and B is
//   chosen so that no unit can have more (entries are more than a window apart).
//
// Array lambdas in ClickHouse copy the arrays they capture once per element, so a unit costs
// O(events × step-1 events): nothing for visitors, more for a unit with thousands of events.
import type { ParsedFunnel, ParsedStep } from '../../funnel/definition.js';
import { SESSION_TAIL_MS } from '../../funnel/entries.js';
import type { BreakdownDimension } from '../../funnel/report.js';
import type { TimeRange } from '../types.js';
import { RETRY_WINDOW_MS, int, str } from './sql.js';

export interface FunnelQuery {
  site: string;
  funnel: ParsedFunnel;
  /** Entries whose journey starts (step 1) in the range are counted. */
  range: TimeRange;
  /** In-flight journeys are those whose window is open at `now`. */
  now: number;
  breakdown: BreakdownDimension | null;
  /** The time of the site's first event: entries before it need no doublings. */
  firstEventMs: number;
  /** Only the units whose hash falls in this part (facts add up over the parts), to bound a query's memory. */
  part?: { index: number; of: number };
}

/** A path pattern (`*`: any run of characters) as an anchored RE2 expression. */
export function pathRegex(pattern: string): string {
  return `^${pattern.split('*').map((literal) => literal.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`;
}

/** Does an event (columns name, path, prop_keys, prop_values) match the step? Same rule as stepMatches. */
export function stepCondition(step: ParsedStep): string {
  const parts = [`name = ${str(step.event)}`];
  if (step.path !== undefined) parts.push(`match(path, ${str(pathRegex(step.path))})`);
  for (const [key, value] of Object.entries(step.props ?? {})) {
    parts.push(`has(prop_keys, ${str(key)})`, `prop_values[indexOf(prop_keys, ${str(key)})] = ${str(value)}`);
  }
  return `(${parts.join(' AND ')})`;
}

/** A missing value as `-`, a present one as `+value`, as `keyOf` (funnel/report.ts) keys it. */
const present = (column: string) => `if(isNull(${column}), '-', concat('+', assumeNotNull(${column})))`;

/** "How many of `values` are <= each of `thresholds`" (both sorted), one count per threshold. */
const countAtMost = (values: string, thresholds: string) => `arrayFilter((c, x) -> x.2 = 1,
    arrayCumSum(arrayMap(x -> toUInt64(x.2 = 0), arraySort(arrayConcat(arrayMap(v -> (v, 0), ${values}), arrayMap(v -> (v, 1), ${thresholds}))))),
    arraySort(arrayConcat(arrayMap(v -> (v, 0), ${values}), arrayMap(v -> (v, 1), ${thresholds}))))`;

const range1 = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** Doublings that cover every possible chain of entries over a span (entries are more than a window apart). */
export function chainDoublings(spanMs: number, windowMs: number): number {
  return Math.max(1, Math.ceil(Math.log2(Math.max(0, spanMs) / windowMs + 2)));
}

/**
 * `expr AS NAME` definitions as few nested subqueries as can be. Each subquery level costs
 * 18.16 a noticeable time to analyse, so a definition joins the level of what it reads; but
 * 18.16 also substitutes an alias by its whole expression wherever it is used, so a chain of
 * aliases that each use the one before twice (the doublings) would grow exponentially. So a
 * definition goes one level down, where what it reads are plain columns, once its expression
 * with the aliases substituted would exceed `MAX_EXPANDED` characters.
 */
const MAX_EXPANDED = 3000;

function layered(definitions: string[], from: string): string {
  const known = new Map<string, { level: number; expanded: number }>();
  const levels: { definitions: string[]; reads: Set<string> }[] = [];
  for (const definition of definitions) {
    const match = /^([\s\S]*) AS (\w+)$/.exec(definition);
    if (!match) throw new Error(`not a definition: ${definition}`);
    const [, expression, name] = match;
    const reads = [...known.keys()]
      .map((other) => ({ other, uses: expression.match(new RegExp(`\\b${other}\\b`, 'g'))?.length ?? 0 }))
      .filter(({ uses }) => uses > 0);
    let level = Math.max(0, ...reads.map(({ other }) => known.get(other)!.level));
    const expandedAt = (at: number) => reads.reduce((size, { other, uses }) =>
      size + (known.get(other)!.level === at ? uses * known.get(other)!.expanded : 0), expression.length);
    if (expandedAt(level) > MAX_EXPANDED) level += 1;
    known.set(name, { level, expanded: expandedAt(level) });
    const at = (levels[level] ??= { definitions: [], reads: new Set() });
    at.definitions.push(`${expression} AS ${name}`);
    for (const { other } of reads) if (known.get(other)!.level < level) at.reads.add(other);
  }
  // 18.16 does not see the columns a lambda captures as read, and drops them from the
  // subquery below; `ignore(...)` reads them plainly (it is always 0).
  return levels.reduce((inner, { definitions, reads }) => `(SELECT *, ${definitions.join(',\n      ')} FROM ${inner}${
    reads.size > 0 ? ` WHERE ignore(${[...reads].join(', ')}) = 0` : ''})`, `(${from})`);
}

/** The query: rows (kind, step, a, b, c, value, amount, n), the counted facts of the report. */
export function funnelFactsQuery({ site, funnel, range, now, breakdown, firstEventMs, part }: FunnelQuery): string {
  const N = funnel.steps.length;
  const W = int(funnel.windowMs);
  const TAIL = int(SESSION_TAIL_MS);
  // Events that can be part of a journey starting in the range lie in
  // [from - window, to + window + tail); before that, only step-1 events matter (they decide
  // where earlier entries end, so where the range's entries open).
  const lower = range.fromMs - funnel.windowMs;
  const upper = range.toMs + funnel.windowMs + SESSION_TAIL_MS;
  const stepOne = stepCondition(funnel.steps[0]);
  const mask = funnel.steps.map((step, k) => `toUInt32(${stepCondition(step)}) * ${2 ** k}`).join(' + ');

  // The site's events that can matter, with the steps each one matches (bit k: step k+1).
  const events = `SELECT ts, arrival, visitor, ${mask} AS mask, cityHash64(client_ts, dedupe_key) AS copy_of,
      cityHash64(session) AS session_hash, toUInt8(name = 'pageview') AS is_pageview, path,
      ifNull(engaged_ms, -1) AS engaged, ifNull(scroll, -1) AS scrolled, channel,
      ${present('source')} AS source_key, ${present('campaign')} AS campaign_key, ${breakdown ? present(breakdown) : `''`} AS breakdown_key,
      if(isNull(revenue_amount) OR isNull(revenue_currency), '', assumeNotNull(revenue_currency)) AS currency,
      ifNull(revenue_amount, 0) AS amount
    FROM events
    WHERE site = ${str(site)} AND ts < ${int(upper)} AND (ts >= ${int(lower - RETRY_WINDOW_MS)} OR ${stepOne})`;

  // A visitor counts under the lead it was first identified as (the first such event to arrive).
  const leadOfVisitor = `SELECT visitor, argMin(assumeNotNull(lead), arrival) AS unit_lead
    FROM events WHERE site = ${str(site)} AND isNotNull(lead) GROUP BY visitor`;
  // Each unit's events in (ts, arrival) order, each event once: copies of a retried event are
  // all the unit's, and the first in that order (the earliest) is the one that counts, as in
  // the stats. Events before the range only count as step-1 events.
  const units = `SELECT unit, arrayFilter((x, first) -> first = 1 AND (x.1 >= ${int(lower)} OR bitAnd(x.3, 1) = 1),
        sorted, arrayEnumerateUniq(arrayMap(x -> x.4, sorted))) AS ev
    FROM (
      SELECT if(unit_lead = '', concat('v:', visitor), concat('l:', unit_lead)) AS unit,
        arraySort(x -> (x.1, x.2), groupArray((ts, arrival, mask, copy_of, session_hash, is_pageview, path, engaged,
          scrolled, channel, source_key, campaign_key, breakdown_key, currency, amount))) AS sorted
      FROM (${events}) ANY LEFT JOIN (${leadOfVisitor}) USING (visitor)
      ${part && part.of > 1 ? `WHERE cityHash64(unit) % ${int(part.of)} = ${int(part.index)}` : ''}
      GROUP BY unit
      HAVING max(bitAnd(mask, 1)) = 1
    )`;

  const B = chainDoublings(upper - firstEventMs, funnel.windowMs);
  const steps = range1(N);
  const matching = [
    // The unit's events, in (ts, arrival) order, one array per column.
    `arrayMap(x -> x.1, ev) AS T`, `arrayMap(x -> x.3, ev) AS M`, `arrayMap(x -> x.5, ev) AS S`,
    `arrayMap(x -> x.6, ev) AS PV`, `arrayMap(x -> x.7, ev) AS PA`, `arrayMap(x -> x.8, ev) AS EN`,
    `arrayMap(x -> x.9, ev) AS SC`, `arrayMap(x -> x.10, ev) AS CHN`, `arrayMap(x -> x.11, ev) AS SRC`,
    `arrayMap(x -> x.12, ev) AS CMP`, `arrayMap(x -> x.13, ev) AS BK`, `arrayMap(x -> x.14, ev) AS RCUR`,
    `arrayMap(x -> x.15, ev) AS RAMT`,
    `arrayMap(i -> toUInt64(i), arrayEnumerate(T)) AS IDX`,
    // Step-1 events: their positions F, times FT; entries index them 1..length(F).
    `arrayFilter(i -> bitAnd(M[i], 1) != 0, IDX) AS F`,
    `arrayMap(i -> T[i], F) AS FT`,
    `arrayMap(i -> toUInt64(i), arrayEnumerate(F)) AS FI`,
    // next: the first step-1 event after this one's window (0: none).
    `arrayMap(c -> if(c < length(F), c + 1, toUInt64(0)), ${countAtMost('FT', `arrayMap(t -> t + ${W}, FT)`)}) AS J0`,
    `[toUInt64(1)] AS C0`,
    ...range1(B).flatMap((j) => [
      `arrayFilter(x -> x > 0, arrayConcat(C${j - 1}, arrayMap(x -> J${j - 1}[x], C${j - 1}))) AS C${j}`,
      ...(j < B ? [`arrayMap(x -> J${j - 1}[x], J${j - 1}) AS J${j}`] : []),
    ]),
    `C${B} AS CHAIN`,
    // Each step-1 event's entry (1-based), and when that entry opened.
    `${countAtMost('CHAIN', 'FI')} AS ENT`,
    `arrayMap(e -> FT[CHAIN[e]], ENT) AS OPENS`,
    // Attempts: from every step-1 event, the earliest next match of each step, within the
    // attempt's window and the entry's events (up to window + tail after it opened).
    `F AS I1`,
    ...steps.slice(1).flatMap((k) => {
      const bit = 2 ** (k - 1);
      const next = `PK${k}[PC${k}[p] + 1]`;
      return [
        `arrayFilter(i -> bitAnd(M[i], ${bit}) != 0, IDX) AS PK${k}`,
        `arrayCumSum(arrayMap(x -> toUInt64(bitAnd(x, ${bit}) != 0), M)) AS PC${k}`,
        `arrayMap((p, t0, op) -> if(p = 0 OR ${next} = 0 OR T[${next}] > least(t0 + ${W}, op + ${W} + ${TAIL}), toUInt64(0), ${next}),
          I${k - 1}, FT, OPENS) AS I${k}`,
      ];
    }),
    `arrayMap(j -> toUInt64(1 ${steps.slice(1).map((k) => `+ (I${k}[j] != 0)`).join(' ')}), FI) AS REACH`,
    // The journey of each entry: its furthest attempt, the earliest of those.
    `arraySort(j -> (ENT[j], ${N} - REACH[j], j), FI) AS ORD`,
    `arrayFilter((j, i) -> ENT[ORD[i - 1]] != ENT[j], ORD, arrayEnumerate(ORD)) AS BEST`,
    `arrayMap(i -> toUInt64(i), arrayEnumerate(BEST)) AS EI`,
    `arrayMap(j -> FT[j], BEST) AS E_START`,
    `arrayMap(j -> REACH[j], BEST) AS E_REACHED`,
    // In flight until the window of the entry's latest attempt closes.
    `arrayMap(e -> FT[if(e < length(CHAIN), CHAIN[e + 1] - 1, toInt64(length(F)))] + ${W}, EI) AS E_OPEN_UNTIL`,
    ...steps.map((k) => `arrayMap(j -> I${k}[j], BEST) AS E_P${k}`),
    ...steps.map((k) => `arrayMap(p -> T[p], E_P${k}) AS E_T${k}`),
    `arrayMap((r, ${steps.map((k) => `p${k}`).join(', ')}) -> [${steps.map((k) => `p${k}`).join(', ')}][r],
      E_REACHED, ${steps.map((k) => `E_P${k}`).join(', ')}) AS E_LAST`,
    // The entry's events end window + tail after it opened; the last stage runs to the end of
    // its session among them.
    `${countAtMost('T', `arrayMap(e -> FT[CHAIN[e]] + ${W} + ${TAIL}, EI)`)} AS E_END`,
    `arrayMap((lp, en) -> arrayFilter(i -> S[i] = S[lp], arraySlice(IDX, lp + 1, if(en > lp, en - lp, 0))), E_LAST, E_END) AS E_TAIL`,
    `arrayMap(tail -> PA[arrayFirst(i -> PV[i] = 1, tail)], E_TAIL) AS E_EXIT`,
    `arrayCumSum(arrayMap(x -> if(x >= 0, x, 0), EN)) AS ENP`,
    `arrayCumSum(arrayMap(x -> toInt64(x >= 0), EN)) AS ENC`,
    ...steps.flatMap((k) => {
      const b = k < N ? `E_P${k + 1}` : `E_P${k}`;
      return [
        `arrayMap((r, a, b, tail) -> if(r < ${k}, toInt64(-1), if(r > ${k},
            if(ENC[b] - ENC[a] = 0, toInt64(-1), ENP[b] - ENP[a]),
            if(arrayCount(i -> EN[i] >= 0, tail) = 0, toInt64(-1), arraySum(arrayMap(i -> if(EN[i] >= 0, EN[i], 0), tail))))),
          E_REACHED, E_P${k}, ${b}, E_TAIL) AS E_EG${k}`,
        `arrayMap((r, a, b, tail) -> if(r < ${k}, toInt64(-1), if(r > ${k},
            arrayReduce('max', arrayConcat([toInt64(-1)], arraySlice(SC, a + 1, if(b > a, b - a, 0)))),
            arrayReduce('max', arrayConcat([toInt64(-1)], arrayMap(i -> SC[i], tail))))),
          E_REACHED, E_P${k}, ${b}, E_TAIL) AS E_SC${k}`,
      ];
    }),
    `arrayMap(p -> CHN[p], E_P1) AS E_CHN`, `arrayMap(p -> SRC[p], E_P1) AS E_SRC`,
    `arrayMap(p -> CMP[p], E_P1) AS E_CMP`, `arrayMap(p -> BK[p], E_P1) AS E_BK`,
    `arrayMap(p -> RCUR[p], E_P${N}) AS E_RCUR`, `arrayMap(p -> RAMT[p], E_P${N}) AS E_RAMT`,
  ];

  const perEntry = ['START', 'REACHED', 'OPEN_UNTIL', 'EXIT', 'CHN', 'SRC', 'CMP', 'BK', 'RCUR', 'RAMT',
    ...steps.flatMap((k) => [`T${k}`, `EG${k}`, `SC${k}`])];
  const entries = `SELECT ${perEntry.map((c) => `e_${c.toLowerCase()}`).join(', ')}
    FROM ${layered(matching, units)}
    ARRAY JOIN ${perEntry.map((c) => `E_${c} AS e_${c.toLowerCase()}`).join(', ')}
    WHERE e_start >= ${int(range.fromMs)} AND e_start < ${int(range.toMs)}`;

  // Entries that state the same facts are counted first (durations rounded to the second, as
  // the engine keeps them; only open journeys keep when they close), then their facts.
  const second = (ms: string) => `toInt64(floor((${ms} + 500) / 1000)) * 1000`;
  const open = `e_reached < ${N} AND e_open_until >= ${int(now)}`;
  const counted = [
    'e_reached AS reached',
    `if(${open}, e_open_until, 0) AS open_until`,
    `if(e_reached < ${N}, e_exit, '') AS exit`,
    ...steps.slice(0, -1).map((k) => `if(e_reached > ${k}, ${second(`e_t${k + 1} - e_t${k}`)}, -1) AS next${k}`),
    ...steps.map((k) => `if(e_eg${k} >= 0, ${second(`e_eg${k}`)}, -1) AS engaged${k}`),
    ...steps.map((k) => `e_sc${k} AS scroll${k}`),
    `if(e_reached = ${N}, e_rcur, '') AS currency`, `if(e_reached = ${N}, e_ramt, 0) AS amount`,
    'e_chn AS channel', 'e_src AS source', 'e_cmp AS campaign', 'e_bk AS breakdown', 'intDiv(e_start, 86400000) AS day',
  ];
  const groups = `SELECT ${counted.join(', ')}, count() AS entries
    FROM (${entries})
    GROUP BY ${counted.map((c) => c.split(' AS ')[1]).join(', ')}`;

  const fact = (kind: string, step: string, a: string, b: string, c: string, value: string, amountOf: string) =>
    `tuple(${str(kind)}, toInt64(${step}), toString(${a}), toString(${b}), toString(${c}), toInt64(${value}), toFloat64(${amountOf}))`;
  const when = (condition: string, facts: string) => `arrayFilter(f -> ${condition}, [${facts}])`;
  const stop = 'reached - 1';
  const converted = `reached = ${N}`;
  const facts = [
    `[${fact('stop', stop, `''`, `''`, `''`, '0', '0')}]`,
    when('open_until > 0', fact('open', stop, `''`, `''`, `''`, 'open_until', '0')),
    when(`reached < ${N}`, fact('exit', stop, 'exit', `''`, `''`, '0', '0')),
    ...steps.slice(0, -1).map((k) => when(`next${k} >= 0`, fact('next', String(k - 1), `''`, `''`, `''`, `next${k}`, '0'))),
    ...steps.map((k) => when(`engaged${k} >= 0`, fact('engaged', String(k - 1), `''`, `''`, `''`, `engaged${k}`, '0'))),
    ...steps.map((k) => when(`scroll${k} >= 0`, fact('scroll', String(k - 1), `''`, `''`, `''`, `scroll${k}`, '0'))),
    when(`currency != ''`, fact('revenue', '0', 'currency', `''`, `''`, '0', 'amount')),
    `[${fact('source', converted, 'channel', 'source', 'campaign', '0', '0')}]`,
    ...(breakdown
      ? [`[${fact('breakdown', stop, 'breakdown', `''`, `''`, '0', '0')}]`, when('open_until > 0', fact('bopen', stop, 'breakdown', `''`, `''`, 'open_until', '0'))]
      : []),
    `[${fact('day', converted, `''`, `''`, `''`, 'day', '0')}]`,
  ];
  return `SELECT f.1 AS kind, f.2 AS step, f.3 AS a, f.4 AS b, f.5 AS c, f.6 AS value, f.7 AS amount, sum(entries) AS n
    FROM (SELECT arrayConcat(${facts.join(',\n      ')}) AS facts, entries FROM (${groups}))
    ARRAY JOIN facts AS f
    GROUP BY kind, step, a, b, c, value, amount`;
}
