// Leads on both stores, side by side, over the same synthetic traffic (5 events per visitor,
// 28 days), where every 10th visitor that signs up names a lead: SQLite keeps leads current
// at ingest; on ClickHouse the materializer (this process holds its lease) applies events and
// moves in the log's order and writes lead rows, which any collector lists. A stage move on
// ClickHouse is logged and waits for the materializer's answer. BENCH_LEADS_VISITORS sets the
// size (default 200,000: 1M events).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clickHouseServerBinary, startClickHouse } from '../test-support/clickhouse.js';
import { SqliteStore } from '../ingest/src/store/sqlite/index.js';
import { ClickHouseStore } from '../ingest/src/store/clickhouse/index.js';
import type { Store } from '../ingest/src/store/types.js';
import type { StoredEvent } from '../ingest/src/event.js';
import { fillStore, shopWalk, visitorOf, type MakeEvent } from './synthetic.js';

const SITE = 'shop.example.com';
const VISITORS = Number(process.env.BENCH_LEADS_VISITORS ?? 200_000);
const RUNS = 5;
const SCORING = { threshold: 20, rules: [{ points: 10, event: 'pageview', path: '/deals/*' }, { points: 15, event: 'add_to_cart' }] };

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (value: number) => (value < 1000 ? `${value.toFixed(0)} ms` : `${(value / 1000).toFixed(2)} s`);

/** shopWalk, where every 10th visitor names a lead at its signup. */
function* leadWalk(make: MakeEvent, n: number): Generator<StoredEvent> {
  for (const event of shopWalk(make, n)) yield event.name === 'signup' && n % 10 === 0 ? { ...event, lead: `crm-${n}` } : event;
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

interface Measured {
  leads: number;
  mqls: number;
  /** The lead list right after new events were written, and with nothing new. */
  afterWriteMs: number;
  unchangedMs: number;
  moveMs: number;
}

async function measure(store: Store): Promise<Measured> {
  await store.createSite({ domain: SITE, origins: [], allowedParams: [], createdAt: 0 });
  await store.putLeadSettings(SITE, { scoring: SCORING });
  await fillStore(store, SITE, VISITORS, 28, leadWalk);
  await store.settled();
  const afterWrite: number[] = [];
  const unchanged: number[] = [];
  const moves: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // One more visitor naming a lead: whatever a store keeps is out of date.
    await store.write({ events: [...leadWalk(visitorOf(SITE, VISITORS + i * 10, Date.now() - 60_000), VISITORS + i * 10)], bots: [] });
    afterWrite.push(await timed(() => store.leads(SITE)));
    unchanged.push(await timed(() => store.leads(SITE)));
    moves.push(await timed(() => store.moveLeadStage(SITE, `crm-${i * 10}`, { stage: 'sal', at: Date.now() })));
  }
  // Compared once everything written is counted (ClickHouse's rows lag the last write by a step).
  await store.settled();
  const final = await store.leads(SITE);
  const leads = final.length;
  const mqls = final.filter((l) => l.stage === 'mql').length;
  return { leads, mqls, afterWriteMs: median(afterWrite), unchangedMs: median(unchanged), moveMs: median(moves) };
}

export async function storesLeadsBenchmark(print: (line: string) => void): Promise<void> {
  if (!clickHouseServerBinary()) return print('Leads on both stores: skipped, clickhouse-server is not installed');
  const clickhouse = await startClickHouse();
  try {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnelbeam-stores-leads-'));
    const sqlite = new SqliteStore(path.join(dir, 'bench.db'));
    const s = await measure(sqlite);
    await sqlite.close();
    fs.rmSync(dir, { recursive: true, force: true });
    const ch = await ClickHouseStore.open(clickhouse.databaseUrlFor('leads_bench'));
    const c = await measure(ch);
    await ch.close();
    print(`Leads on both stores: ${VISITORS} visitors (${VISITORS * 5} events or so), ${c.leads} leads (median of ${RUNS} runs)`);
    print(`  SQLite     lead list ${ms(s.afterWriteMs)} after a write, ${ms(s.unchangedMs)} unchanged; stage move ${ms(s.moveMs)}`);
    print(`  ClickHouse lead list ${ms(c.afterWriteMs)} after a write (from the rows), ${ms(c.unchangedMs)} unchanged; stage move ${ms(c.moveMs)}`);
    print(`  leads ${s.leads} / ${c.leads}, MQLs ${s.mqls} / ${c.mqls}${s.leads === c.leads && s.mqls === c.mqls ? ', equal on both' : ', DIFFERENT'}`);
  } finally {
    await clickhouse.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await storesLeadsBenchmark((line) => console.log(line));
}
