import { defineConfig } from 'vitest/config';

/** The store suites that hold ClickHouse to SQLite's numbers: run again on chDB (ClickHouse 26.7 in-process). */
const CONFORMANCE = [
  'ingest/test/store/conformance.test.ts',
  'ingest/test/store/funnelConformance.test.ts',
  'ingest/test/store/leadConformance.test.ts',
  'ingest/test/store/materializedConformance.test.ts',
  'ingest/test/store/accountConformance.test.ts',
  'ingest/test/store/heatmapConformance.test.ts',
  'ingest/test/store/peopleConformance.test.ts',
  'ingest/test/crm/clickhouse.test.ts',
];

/**
 * Run a third time on a loopback cluster (two shards of 18.16, one with two replicas, and
 * ZooKeeper, shared by the files: test-support/clusterGlobalSetup.ts), with the cluster's fault
 * tests, which start a cluster of their own. Skipped where zookeeper or clickhouse-server is
 * missing (a newcomer's clone); CI installs both (.ci/run). `npm run test:cluster` runs these alone.
 */
const CLUSTER_FAULTS = 'ingest/test/store/clusterFaults.test.ts';
const CLUSTER = [...CONFORMANCE.filter((file) => file.startsWith('ingest/test/store/')), CLUSTER_FAULTS];

export default defineConfig({
  test: {
    exclude: ['node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration and browser tests start real servers; two cores, so keep the pool small.
    maxWorkers: 2,
    // The JSON report lets .ci/run close with a plain "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    projects: [
      { extends: true, test: { name: 'main', include: ['**/test/**/*.test.ts', 'e2e/**/*.test.ts'], exclude: ['node_modules/**', '**/dist/**', CLUSTER_FAULTS] } },
      // Skipped where chdb is not installed (a newcomer's clone); CI installs it (.ci/run).
      { extends: true, test: { name: 'chdb', include: CONFORMANCE, env: { CLICKHOUSE_ENGINE: 'chdb' } } },
      // A database's schema takes ON CLUSTER statements (~8 s here), so the limits are longer.
      { extends: true, test: {
        name: 'cluster', include: CLUSTER, env: { CLICKHOUSE_ENGINE: 'cluster' }, testTimeout: 120_000, hookTimeout: 180_000,
        globalSetup: ['test-support/clusterGlobalSetup.ts'],
      } },
    ],
  },
});
