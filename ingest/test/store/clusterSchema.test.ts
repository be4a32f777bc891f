// The cluster form of the ClickHouse schema (store/clickhouse/cluster.ts), statement by
// statement: every migration has one, so a table added to MIGRATIONS is made on a cluster
// without more work. The loopback cluster runs them for real (the `cluster` vitest project).
import { describe, expect, it } from 'vitest';
import { ClusterSchema, isUnavailable } from '../../src/store/clickhouse/cluster.js';
import * as SQL from '../../src/store/clickhouse/sql.js';
import { parseClickHouseUrl } from '../../src/store/clickhouse/index.js';
import { ConfigError, readConfig } from '../../src/config.js';

const schema = new ClusterSchema('fb', 'analytics');
const oneLine = (statement: string) => statement.replace(/\s+/g, ' ').trim();

describe('the cluster form of the schema', () => {
  it('exists for every migration statement', () => {
    for (const statement of [SQL.MIGRATIONS_TABLE, ...SQL.MIGRATIONS.flat()]) {
      const forms = schema.statements(statement);
      expect(forms.length).toBeGreaterThan(0);
      for (const form of forms) {
        if (/^\s*INSERT/.test(form)) continue;
        expect(form).toMatch(/ ON CLUSTER fb\b/);
      }
    }
  });

  it('makes a table a replicated local table of the same engine under a Distributed one of the same name', () => {
    const [local, distributed] = schema.statements(`CREATE TABLE IF NOT EXISTS sites (
      domain String,
      version UInt64
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY domain`).map(oneLine);
    expect(local).toBe("CREATE TABLE IF NOT EXISTS analytics.sites_local ON CLUSTER fb ( domain String, version UInt64 ) "
      + "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/analytics/sites_local', '{replica}', version) ORDER BY domain");
    // Small tables live whole on the first shard; events are spread by visitor.
    expect(distributed).toBe('CREATE TABLE IF NOT EXISTS analytics.sites ON CLUSTER fb AS analytics.sites_local '
      + 'ENGINE = Distributed(fb, analytics, sites_local, 0)');
    const [events, spread] = schema.statements(SQL.MIGRATIONS[0][0]).map(oneLine);
    expect(events).toContain("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/analytics/events_local', '{replica}') PARTITION BY");
    expect(spread).toContain('Distributed(fb, analytics, events_local, sipHash64(visitor))');
  });

  it('feeds a materialized view from the local tables, and re-creates a Distributed table whose columns change', () => {
    const [view] = schema.statements('CREATE MATERIALIZED VIEW IF NOT EXISTS event_arrivals_view TO event_arrivals\n  AS SELECT site, arrival FROM events').map(oneLine);
    expect(view).toBe('CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.event_arrivals_view ON CLUSTER fb TO analytics.event_arrivals_local '
      + 'AS SELECT site, arrival FROM analytics.events_local');
    expect(schema.statements('ALTER TABLE events ADD COLUMN arrival UInt64').map(oneLine)).toEqual([
      'ALTER TABLE analytics.events_local ON CLUSTER fb ADD COLUMN arrival UInt64',
      'DROP TABLE IF EXISTS analytics.events ON CLUSTER fb',
      'CREATE TABLE IF NOT EXISTS analytics.events ON CLUSTER fb AS analytics.events_local ENGINE = Distributed(fb, analytics, events_local, sipHash64(visitor))',
    ]);
    expect(() => schema.statements('DROP TABLE events')).toThrow(/no cluster form/);
  });

  it('runs the store\'s mutations on every shard\'s local table', () => {
    expect(oneLine(schema.mutation(SQL.deleteVisitorEvents('shop', 'v1'))))
      .toBe("ALTER TABLE analytics.events_local ON CLUSTER fb DELETE WHERE site = 'shop' AND visitor = 'v1'");
    expect(oneLine(schema.pendingMutations('events'))).toContain("table = 'events_local' AND is_done = 0");
    // A DELETE that would delete nothing is not run (counted first, through the Distributed table).
    expect(oneLine(schema.matching(SQL.deleteVisitorEvents('shop', 'v1'))!))
      .toBe("SELECT count() AS n FROM analytics.events WHERE site = 'shop' AND visitor = 'v1'");
    expect(schema.matching(SQL.dropArrivalPartition('20000'))).toBeNull();
  });

  it('tells storage out of reach from other errors', () => {
    expect(isUnavailable(Object.assign(new Error('All connection tries failed'), { code: '279' }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('Syntax error'), { code: '62' }))).toBe(false);
  });
});

describe('the cluster setting', () => {
  it('comes from CLICKHOUSE_CLUSTER or the URL, and is an identifier', () => {
    expect(readConfig({ CLICKHOUSE_CLUSTER: 'analytics_cluster' }).clickhouseCluster).toBe('analytics_cluster');
    expect(readConfig({}).clickhouseCluster).toBeNull();
    expect(() => readConfig({ CLICKHOUSE_CLUSTER: 'a b' })).toThrow(ConfigError);
    expect(parseClickHouseUrl('clickhouse://u:p@h:8123/db?cluster=fb').cluster).toBe('fb');
    expect(parseClickHouseUrl('clickhouse://u:p@h:8123/db').cluster).toBeUndefined();
  });
});
