// The pure parts of the ClickHouse funnel query: path patterns as RE2, and how many doublings
// cover a chain of entries.
import { describe, expect, it } from 'vitest';
import { chainDoublings, pathRegex } from '../../src/store/clickhouse/funnelSql.js';
import { compilePathPattern } from '../../src/funnel/definition.js';

describe('pathRegex', () => {
  it('anchors the pattern, turns * into .* and escapes everything else', () => {
    expect(pathRegex('/')).toBe('^/$');
    expect(pathRegex('/deals/*')).toBe('^/deals/.*$');
    expect(pathRegex('/a.b+(c)?[d]{e}|f^$\\*')).toBe('^/a\\.b\\+\\(c\\)\\?\\[d\\]\\{e\\}\\|f\\^\\$\\\\.*$');
  });

  it('accepts and rejects what the engine does, read as a JavaScript expression (RE2 reads these alike)', () => {
    const cases: [string, string][] = [['/deals/*', '/deals/spa'], ['/deals/*', '/deal'], ['/a.b', '/axb'], ['/a.b', '/a.b'], ['/*/x', '//x']];
    for (const [pattern, path] of cases) {
      expect(new RegExp(pathRegex(pattern), 's').test(path)).toBe(compilePathPattern(pattern).test(path));
    }
  });
});

describe('chainDoublings', () => {
  it('covers every chain of entries that fits in the span', () => {
    const window = 60_000;
    for (const span of [0, window, 10 * window, 1000 * window + 1, 365 * 86_400_000]) {
      // Entries are more than a window apart: at most span / window + 1 of them.
      expect(2 ** chainDoublings(span, window)).toBeGreaterThanOrEqual(Math.floor(span / window) + 1);
    }
  });
});
