// ClickHouse at scale: two collector processes (bench/servers/collector.ts on one database of a
// throwaway clickhouse-server) over 10M events from 2M visitors (the shop walk over 60 days,
// every 10th visitor that signs up naming a lead), the 7-day deal funnel saved before the
// events were written. The events are written through the store by this process, which
// materializes them as it goes (holding the lease, a batch at a time); then the first collector
// takes the lease over, and both report from what it writes. Measured side by side in this run:
// a. report latency through each collector, once the funnel is materialized;
// b. freshness: events sent through one collector, until the other's report counts them;
// d. the lead list right after a new lead event, through the collector that is not the materializer;
// c. take-over: the materializer killed (-9) while both take single events, until the other
//    holds the lease and its report moves again; then every event acknowledged is stored once,
//    and the report equals that of the same funnel back-filled afresh.
// BENCH_CH_SCALE_VISITORS sets the size (default 2,000,000 visitors: about 10M events).
import { randomUUID } from 'node:crypto';
import { clickHouseServerBinary, startClickHouse, type RunningClickHouse } from '../test-support/clickhouse.js';
import { ClickHouseStore } from '../ingest/src/store/clickhouse/index.js';
import { holdingClaim } from '../ingest/src/store/clickhouse/lease.js';
import * as SQL from '../ingest/src/store/clickhouse/sql.js';
import type { StoredEvent } from '../ingest/src/event.js';
import { DAY_MS } from '../ingest/src/time.js';
import { rssMiB } from './load.js';
import { snippetEvent } from './traffic.js';
import { DEAL_FUNNEL, shopWalk, visitorOf, type MakeEvent } from './synthetic.js';
import {
  SITE, lastDays, loadAverage, median, met, millis, seconds, sleep, sourceVersion, startCollector, timed, until, type Collector, type ReportBody,
} from './collectorClient.js';

const VISITORS = Number(process.env.BENCH_CH_SCALE_VISITORS ?? 2_000_000);
const SPAN_DAYS = 60;
const DATABASE = 'scale';
/** Events per write during the fill, each materialized before the next (a step takes what arrived: kept to a live step's size). */
const BATCH = Number(process.env.BENCH_CH_SCALE_BATCH ?? 5_000);
/** µs between the arrival stamps of the events written (fill). */
const ARRIVAL_SPACING_US = Number(process.env.BENCH_CH_ARRIVAL_SPACING_US ?? 1_000);
const REPORTS = 11;
const FRESHNESS_TRIALS = 6;
const LEAD_TRIALS = 3;
/** Concurrent senders of single events per collector during the take-over. */
const SENDERS = 16;
/** Single events a second sent through each collector during the take-over: a steady load, well within what each takes. */
const TAKEOVER_RATE = Number(process.env.BENCH_CH_TAKEOVER_RATE ?? 500);
/** How long the materializer may take to catch up with the events written before it started. */
const CATCH_UP_MINUTES = Number(process.env.BENCH_CH_CATCH_UP_MINUTES ?? 60);

type Print = (line: string) => void;

/** The shop walk, where every 10th visitor that signs up names a lead (as bench/storesLeads.ts). */
function* leadWalk(make: MakeEvent, n: number): Generator<StoredEvent> {
  for (const event of shopWalk(make, n)) yield event.name === 'signup' && n % 10 === 0 ? { ...event, lead: `crm-${n}` } : event;
}

/** SELECTs against the benchmark's database, as JSON rows. */
function clickhouseQuery(clickhouse: RunningClickHouse) {
  const url = new URL(clickhouse.databaseUrlFor(DATABASE));
  const auth = { 'x-clickhouse-user': decodeURIComponent(url.username), 'x-clickhouse-key': decodeURIComponent(url.password) };
  return async <T = Record<string, unknown>>(query: string): Promise<T[]> => {
    const reply = await fetch(`${clickhouse.url}/?database=${DATABASE}`, { method: 'POST', headers: auth, body: `${query} FORMAT JSON` });
    const text = await reply.text();
    if (!reply.ok) throw new Error(`ClickHouse: ${text.slice(0, 500)}`);
    return (JSON.parse(text) as { data: T[] }).data;
  };
}

/**
 * Writes the events through the store, BATCH at a time, this process materializing each batch
 * (it holds the lease, as the one collector would) before writing the next.
 *
 * Arrival stamps are spaced ARRIVAL_SPACING_US apart, in the hours before the fill, as if the
 * events had come over that time (1,000 a second by default) rather than all within the fill's
 * minutes. The rows are otherwise what `write` stores. BENCH_CH_ARRIVAL_SPACING_US=0 keeps the
 * store's own clock.
 */
async function fill(databaseUrl: string, end: number, print: Print): Promise<{ events: number; ms: number; endedAt: number }> {
  const store = await ClickHouseStore.open(databaseUrl, { materialize: false });
  const expected = VISITORS * 6;
  let arrival = Date.now() * 1000 - expected * ARRIVAL_SPACING_US - 60_000_000;
  if (ARRIVAL_SPACING_US > 0) {
    (store as unknown as { nextArrival: () => number }).nextArrival = () => (arrival += ARRIVAL_SPACING_US);
  }
  try {
    await store.createSite({ domain: SITE, origins: ['https://shop.example.com'], allowedParams: [], createdAt: 0 });
    await store.putFunnel({ site: SITE, id: 'deal', definition: DEAL_FUNNEL, createdAt: 0, updatedAt: 0 });
    const started = performance.now();
    let lastPrint = started;
    const span = SPAN_DAYS * DAY_MS - DAY_MS;
    let batch: StoredEvent[] = [];
    let events = 0;
    let writeMs = 0;
    const flush = async () => {
      const writing = performance.now();
      await store.write({ events: batch, bots: [] });
      writeMs += performance.now() - writing;
      events += batch.length;
      batch = [];
      // A step that takes what arrived up to the batch's last stamp.
      await store.materializer.step(ARRIVAL_SPACING_US > 0 ? arrival : Date.now() * 1000);
      if (performance.now() - lastPrint >= 60_000) {
        lastPrint = performance.now();
        print(`   ${events.toLocaleString('en')} events written and materialized after ${seconds(lastPrint - started)} ` +
          `(${Math.round(events / ((lastPrint - started) / 1000)).toLocaleString('en')} events/s, ${seconds(writeMs)} of it writing); load average ${loadAverage()}`);
      }
    };
    for (let n = 0; n < VISITORS; n++) {
      for (const event of leadWalk(visitorOf(SITE, n, end - SPAN_DAYS * DAY_MS + Math.floor((n / VISITORS) * span)), n)) {
        batch.push(event);
        if (batch.length === BATCH) await flush();
      }
    }
    await flush();
    return { events, ms: performance.now() - started, endedAt: ARRIVAL_SPACING_US > 0 ? Math.floor(arrival / 1000) : Date.now() };
  } finally {
    await store.close();
  }
}

/**
 * Sends single events through a collector from `SENDERS` loops until stopped, at most
 * TAKEOVER_RATE a second; keeps the ids acknowledged with 202.
 */
function sendSingles(collector: Collector, label: string) {
  const acknowledged: string[] = [];
  let refused = 0;
  let stopped = false;
  let n = 0;
  const started = performance.now();
  const loop = async (sender: number) => {
    for (let sent = 0; !stopped; sent++) {
      const due = started + (sent * SENDERS * 1000) / TAKEOVER_RATE;
      if (due > performance.now()) await sleep(due - performance.now());
      const id = `tk-${label}-${sender}-${(n++).toString(36)}`;
      const event = snippetEvent();
      // Never on '/': the deal funnel's step 1 then moves only with the markers the take-over sends.
      if (event.name === 'pageview') event.url = 'https://shop.example.com/deals/sushi-night';
      const status = await collector.api.postEvents({ ...event, id }, { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', 'x-forwarded-for': `10.9.${sender}.${n % 250}` });
      if (status === 202) acknowledged.push(id);
      else {
        refused++;
        if (status === 0) await sleep(50);
      }
    }
  };
  const loops = Array.from({ length: SENDERS }, (_, sender) => loop(sender));
  return {
    acknowledged,
    get refused() { return refused; },
    /** Events acknowledged per second so far. */
    get rate() { return acknowledged.length / ((performance.now() - started) / 1000); },
    stop: async () => { stopped = true; await Promise.all(loops); },
  };
}

/** Pageviews of '/' (the funnel's step 1) from `count` new visitors, in one request; returns when they were sent and the status. */
async function sendMarkers(collector: Collector, count: number): Promise<{ sentAt: number; sentAtPerf: number; status: number }> {
  const sentAt = Date.now();
  const sentAtPerf = performance.now();
  const events = Array.from({ length: count }, () => ({
    site: SITE, name: 'pageview', url: 'https://shop.example.com/', id: randomUUID(), ts: Date.now(), visitor: `marker-${randomUUID()}`,
  }));
  return { sentAt, sentAtPerf, status: await collector.api.postEvents(events) };
}

/** Runs one measurement; a failure is printed (what it waited for, and how long) and the benchmark goes on. */
async function section(label: string, print: Print, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    print(`${label}: FAILED — ${error instanceof Error ? error.message : String(error)}`);
  }
}

const entered = (report: ReportBody | null) => report?.steps[0]?.entered ?? -1;

/** A report's numbers that do not depend on the clock: entered per step, converted, revenue, sources. */
function stableNumbers(report: ReportBody): string {
  return JSON.stringify({ entered: report.steps.map((s) => s.entered), converted: report.converted, revenue: report.revenue, sources: report.sources });
}

export async function clickhouseScaleBenchmark(print: Print): Promise<void> {
  if (!clickHouseServerBinary()) return print('ClickHouse at scale: skipped, clickhouse-server is not installed');
  const clickhouse = await startClickHouse();
  const query = clickhouseQuery(clickhouse);
  const databaseUrl = clickhouse.databaseUrlFor(DATABASE);
  const running = new Set<Collector>();
  try {
    print(`ClickHouse at scale: ${VISITORS.toLocaleString('en')} visitors over ${SPAN_DAYS} days (shop walk, every 10th signup names a lead), ` +
      `the 7-day deal funnel saved first; clickhouse-server 18.16 on this machine. Load average at start: ${loadAverage()}; ${await sourceVersion()}`);
    const end = Date.now();
    const written = await fill(databaseUrl, end, print);
    print(`written: ${written.events.toLocaleString('en')} events through ClickHouseStore.write, ${BATCH.toLocaleString('en')} at a time, each batch materialized ` +
      `by this process (holding the lease) before the next: ${seconds(written.ms)} (${Math.round(written.events / (written.ms / 1000)).toLocaleString('en')} events/s); load average ${loadAverage()}`);

    /** How far the materializer has got, from a report's fresh_until: the events that had arrived by then. */
    const progressOf = async (report: ReportBody | null) => {
      const fresh = report?.fresh_until ?? null;
      if (fresh === null) return `no fresh_until yet (backfill ${JSON.stringify(report?.backfill ?? null)})`;
      const [row] = await query<{ n: string }>(`SELECT count() AS n FROM events WHERE arrival <= ${Math.floor(fresh) * 1000}`);
      return `${Number(row.n).toLocaleString('en')} of the ${written.events.toLocaleString('en')} events written taken (fresh_until ${new Date(fresh).toISOString()})`;
    };
    const holder = async () => {
      const claims = (await query<Record<string, unknown>>(SQL.leaseTerm('materializer'))).map((row) => ({
        term: Number(row.term), holder: String(row.holder), claimedAt: Number(row.claimed_at), renewedAt: Number(row.renewed_at),
      }));
      return holdingClaim(claims);
    };
    // The first collector claims the lease before the second starts: which one materializes is then known.
    // The fill's store gave the lease up on close: the next claim is the first collector's.
    const released = (await holder())?.holder ?? null;
    const firstSpawnedAt = Date.now();
    const first = await startCollector(databaseUrl, 0);
    running.add(first);
    await until(async () => ((await holder())?.holder ?? released) !== released, 60_000, 'the first collector to claim the materializer lease', 100);
    const firstHolder = (await holder())!.holder;
    const second = await startCollector(databaseUrl, 1);
    running.add(second);
    const range = lastDays(28);
    // Taken over: the report complete (no back-fill) and fresh past the first collector's spawn, through both.
    const materializing = performance.now();
    let lastPrint = materializing;
    let caughtUp = false;
    while (performance.now() - materializing < CATCH_UP_MINUTES * 60_000) {
      const replies = await Promise.all([first, second].map((c) => c.api.report('deal', range)));
      if (replies.every((r) => r.status === 200 && r.body?.backfill === null && (r.body.fresh_until ?? 0) >= firstSpawnedAt)) {
        caughtUp = true;
        break;
      }
      if (performance.now() - lastPrint >= 60_000) {
        lastPrint = performance.now();
        print(`   ${seconds(lastPrint - materializing)} after the start: ${await progressOf(replies[1].body)}; load average ${loadAverage()}`);
      }
      await sleep(2_000);
    }
    const materializedMs = performance.now() - first.spawnedAt;
    const rss = `RSS materializer ${rssMiB(first.process.pid!).toFixed(0)} MiB, other ${rssMiB(second.process.pid!).toFixed(0)} MiB`;
    if (!caughtUp) {
      print(`two collectors (cores 0 and 1): the first had NOT taken over ${seconds(materializedMs)} after it was spawned ` +
        `(BENCH_CH_CATCH_UP_MINUTES=${CATCH_UP_MINUTES}): ${await progressOf((await second.api.report('deal', range)).body)}; ${rss}; ` +
        `the measurements that need a materialized funnel are skipped`);
      return;
    }
    print(`two collectors (cores 0 and 1): the first to start takes the materializer lease over from the fill; the deal funnel's report ` +
      `is complete and fresh past its spawn, through both, ${seconds(materializedMs)} after it was spawned; ${rss}`);

    // a. Report latency through each collector, alternating.
    const latency = new Map<Collector, { plain: number[]; channel: number[] }>([[first, { plain: [], channel: [] }], [second, { plain: [], channel: [] }]]);
    for (let i = 0; i < REPORTS; i++) {
      for (const collector of [first, second]) {
        const [plain, plainMs] = await timed(() => collector.api.report('deal', range));
        const [byChannel, channelMs] = await timed(() => collector.api.report('deal', range, 'channel'));
        if (plain.status !== 200 || byChannel.status !== 200) throw new Error(`report answered ${plain.status} / ${byChannel.status}`);
        latency.get(collector)!.plain.push(plainMs);
        latency.get(collector)!.channel.push(channelMs);
      }
    }
    const worst = Math.max(...[first, second].map((c) => median(latency.get(c)!.plain)));
    print(`a. report latency, last 28 days, median of ${REPORTS}: through the materializer ${millis(median(latency.get(first)!.plain))} ` +
      `(by channel ${millis(median(latency.get(first)!.channel))}), through the other ${millis(median(latency.get(second)!.plain))} ` +
      `(by channel ${millis(median(latency.get(second)!.channel))}) — target ≤ 500 ms: ${met(worst <= 500)} (50 s before materialization)`);

    // b. Freshness: markers sent through one collector, counted by the other's report.
    await section('b. freshness', print, async () => {
      const freshness: number[] = [];
      for (let trial = 0; trial < FRESHNESS_TRIALS; trial++) {
        const [via, reader] = trial % 2 === 0 ? [first, second] : [second, first];
        const baseline = entered((await reader.api.report('deal', range)).body);
        const { sentAt, sentAtPerf, status } = await sendMarkers(via, 10);
        if (status !== 202) throw new Error(`markers answered ${status}`);
        const counted = await until(async () => {
          const report = (await reader.api.report('deal', range)).body;
          return report !== null && (report.fresh_until ?? 0) >= sentAt && entered(report) >= baseline + 10;
        }, 60_000, `trial ${trial + 1}: markers counted`, 50);
        freshness.push(counted - sentAtPerf);
      }
      print(`b. freshness: 10 new visitors sent through one collector until the other's report counts them (fresh_until ≥ sent, step 1 +10), ` +
        `median of ${FRESHNESS_TRIALS} (both ways): ${seconds(median(freshness))} (${freshness.map((ms) => seconds(ms)).join(', ')}) — target ≤ 5 s: ${met(median(freshness) <= 5_000)}`);
    });

    // d. The lead list right after a new lead event, through the collector that is not the materializer.
    const materializer = (await holder())?.holder === firstHolder ? first : second;
    const other = materializer === first ? second : first;
    await section('d. lead list', print, async () => {
      const afterEvent: number[] = [];
      const unchanged: number[] = [];
      const visibleAfter: number[] = [];
      let listed = 0;
      let total = 0;
      for (let trial = 0; trial < LEAD_TRIALS; trial++) {
        const lead = `bench-lead-${randomUUID().slice(0, 8)}`;
        const status = await other.api.postEvents({ site: SITE, name: 'signup', url: 'https://shop.example.com/', id: randomUUID(), ts: Date.now(), visitor: `lead-${lead}`, lead });
        const acknowledgedAt = performance.now();
        if (status !== 202) throw new Error(`lead event answered ${status}`);
        const [list, ms] = await timed(() => other.api.leads());
        if (list.status !== 200) throw new Error(`lead list answered ${list.status}`);
        afterEvent.push(ms);
        total = list.body?.total ?? 0;
        const hasLead = (body: typeof list.body) => body?.leads.some((l) => l.lead === lead) ?? false;
        if (hasLead(list.body)) listed++;
        visibleAfter.push(await until(async () => hasLead((await other.api.leads()).body), 120_000, 'the new lead listed', 50) - acknowledgedAt);
        unchanged.push((await timed(() => other.api.leads()))[1]);
      }
      print(`d. lead list (${total.toLocaleString('en')} leads) through the collector that does not materialize, right after a new lead event (202): ` +
        `median ${millis(median(afterEvent))} (${afterEvent.map(millis).join(', ')}), holding the new lead ${listed} of ${LEAD_TRIALS} times; ` +
        `the lead listed ${seconds(median(visibleAfter))} after its 202 (median; ${visibleAfter.map(seconds).join(', ')}); the list again with nothing new ${millis(median(unchanged))}`);
    });

    // c. Take-over: the materializer killed while both collectors take single events.
    const load = [sendSingles(first, 'first'), sendSingles(second, 'second')];
    await sleep(5_000);
    const before = await holder();
    const victim = before?.holder === firstHolder ? first : second;
    const survivor = victim === first ? second : first;
    const baseline = (await survivor.api.report('deal', range)).body;
    const ratesAtKill = load.map((l) => Math.round(l.rate));
    const killedAtPerf = performance.now();
    await victim.crash();
    running.delete(victim);
    const markers = await sendMarkers(survivor, 5);
    if (markers.status !== 202) throw new Error(`markers answered ${markers.status}`);
    const leaseTaken = until(async () => {
      const claim = await holder();
      return claim !== null && claim.holder !== before?.holder;
    }, 180_000, 'the lease taken over', 100).catch(() => null);
    const reportMoved = until(async () => {
      const report = (await survivor.api.report('deal', range)).body;
      return report !== null && (report.fresh_until ?? 0) >= markers.sentAt && entered(report) >= entered(baseline) + 5;
    }, 180_000, 'the report moving again', 100).catch(() => null);
    const [leaseAt, movedAt] = await Promise.all([leaseTaken, reportMoved]);
    await sleep(2_000);
    await Promise.all(load.map((l) => l.stop()));
    const stoppedAt = Date.now();
    const after = (at: number | null) => (at === null ? 'not within 180 s' : `${seconds(at - killedAtPerf)} later`);
    print(`c. take-over: kill -9 of the materializer (${victim === first ? 'first' : 'second'} collector) under single events through both ` +
      `(${SENDERS} senders each, ${ratesAtKill.join(' + ')} acknowledged/s before the kill): the other holds the lease ${after(leaseAt)}, ` +
      `and its report counts events sent after the kill ${after(movedAt)} — target ≤ 15 s: ${met(movedAt !== null && movedAt - killedAtPerf <= 15_000)}`);

    // Every event acknowledged is stored once; the report equals a fresh back-fill's.
    const caughtUpAfterLoad = await until(async () => ((await survivor.api.report('deal', range)).body?.fresh_until ?? 0) >= stoppedAt + 1_000,
      180_000, 'the survivor caught up', 250).then(() => true, () => false);
    const acknowledged = new Set(load.flatMap((l) => l.acknowledged));
    const stored = await query<{ id: string; copies: string }>(`SELECT id, count() AS copies FROM events WHERE site = '${SITE}' AND startsWith(id, 'tk-') GROUP BY id`);
    const storedIds = new Map(stored.map((row) => [row.id, Number(row.copies)]));
    const missing = [...acknowledged].filter((id) => !storedIds.has(id)).length;
    const twice = stored.filter((row) => Number(row.copies) > 1).length;
    print(`   ${acknowledged.size.toLocaleString('en')} events acknowledged with 202 (refused or unanswered: ${load.map((l) => l.refused).join(' + ')}); ` +
      `stored: ${storedIds.size.toLocaleString('en')} distinct ids, ${missing} acknowledged ones missing, ${twice} stored more than once — ` +
      `${missing === 0 && twice === 0 ? 'every acknowledged event stored once' : 'NOT every acknowledged event stored once'}`);
    if (!caughtUpAfterLoad) {
      print('   the survivor\'s report was not fresh past the end of the load within 180 s: the comparison with a fresh back-fill is skipped');
      return;
    }
    await section('   comparison with a fresh back-fill', print, async () => {
      const checkStarted = performance.now();
      const put = await survivor.api.putFunnel('deal-check', DEAL_FUNNEL);
      if (put.status !== 201) throw new Error(`PUT deal-check answered ${put.status}`);
      const everything = { from: lastDays(SPAN_DAYS + 2).from, to: lastDays(1).to };
      await until(async () => (await survivor.api.report('deal-check', everything)).body?.backfill === null, 1_800_000, 'the check funnel back-filled', 1_000);
      const checkMs = performance.now() - checkStarted;
      const [live, fresh] = await Promise.all([survivor.api.report('deal', everything), survivor.api.report('deal-check', everything)]);
      const same = stableNumbers(live.body!) === stableNumbers(fresh.body!);
      print(`   the deal funnel's report over all ${SPAN_DAYS + 2} days ${same ? 'equals' : 'DIFFERS from'} that of the same definition back-filled afresh ` +
        `(${seconds(checkMs)} to back-fill): entered per step ${JSON.stringify(live.body!.steps.map((s) => s.entered))}` +
        `${same ? '' : ` against ${JSON.stringify(fresh.body!.steps.map((s) => s.entered))}`}`);
    });
    print(`Load average at the end: ${loadAverage()}`);
  } finally {
    for (const collector of running) await collector.stopWithin(10_000);
    await clickhouse.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await clickhouseScaleBenchmark((line) => console.log(line));
}
