import { defineConfig } from 'vitest/config';

/** The store suites that hold ClickHouse to SQLite's numbers: run again on chDB (ClickHouse 26.7 in-process). */
const CONFORMANCE = [
  'ingest/test/store/conformance.test.ts',
  'ingest/test/store/funnelConformance.test.ts',
  'ingest/test/store/leadConformance.test.ts',
  'ingest/test/store/materializedConformance.test.ts',
  'ingest/test/store/accountConformance.test.ts',
  'ingest/test/crm/clickhouse.test.ts',
];

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
      { extends: true, test: { name: 'main', include: ['**/test/**/*.test.ts', 'e2e/**/*.test.ts'] } },
      // Skipped where chdb is not installed (a newcomer's clone); CI installs it (.ci/run).
      { extends: true, test: { name: 'chdb', include: CONFORMANCE, env: { CLICKHOUSE_ENGINE: 'chdb' } } },
    ],
  },
});
