// The A/B statistics against textbook cases: Wilson intervals, the pooled two-proportion z-test,
// the normal CDF, and how the control and significance are decided.
import { describe, expect, it } from 'vitest';
import { compareVariants, normalCdf, twoProportionPValue, wilson } from '../../src/funnel/variants.js';
import type { BreakdownReport } from '../../src/funnel/report.js';

const row = (key: string | null, entered: number, converted: number): BreakdownReport =>
  ({ key, steps: [{ entered }], converted, conversion_rate: entered ? converted / entered : 0 }) as unknown as BreakdownReport;

describe('the statistics', () => {
  it('normal CDF: Φ(0) = 0.5, Φ(1.96) = 0.975, Φ(-2.5758) = 0.005', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-2.575829)).toBeCloseTo(0.005, 6);
  });

  it('Wilson 95% interval (Newcombe 1998): 20 of 100 is [0.1334, 0.2888]; 0 of 10 is [0, 0.2775]; 10 of 10 is [0.7225, 1]', () => {
    const [lo, hi] = wilson(20, 100);
    expect(lo).toBeCloseTo(0.1334, 4);
    expect(hi).toBeCloseTo(0.2888, 4);
    expect(wilson(0, 10)[0]).toBe(0);
    expect(wilson(0, 10)[1]).toBeCloseTo(0.2775, 4);
    expect(wilson(10, 10)[0]).toBeCloseTo(0.7225, 4);
    expect(wilson(0, 0)).toEqual([0, 0]);
  });

  it('two-proportion z-test: 250/1000 against 200/1000 gives z = 2.68, p = 0.0074', () => {
    expect(twoProportionPValue(250, 1000, 200, 1000)).toBeCloseTo(0.00742, 4);
    // Symmetric, and 1 for equal rates or nothing to compare.
    expect(twoProportionPValue(200, 1000, 250, 1000)).toBeCloseTo(0.00742, 4);
    expect(twoProportionPValue(50, 100, 50, 100)).toBe(1);
    expect(twoProportionPValue(0, 100, 0, 100)).toBe(1);
    expect(twoProportionPValue(1, 0, 1, 10)).toBe(1);
  });
});

describe('compareVariants', () => {
  it('takes the variant with most entries as control, and calls a clear win significant', () => {
    const rows = compareVariants([row('A', 1000, 200), row('B', 1000, 250), row('C', 500, 100)]);
    expect(rows.map((r) => r.variant)).toEqual(['A', 'B', 'C']);
    // A and B tie on entries: the first by name is the control.
    expect(rows[0].vs_control).toBeNull();
    expect(rows[1].vs_control!.uplift).toBeCloseTo(0.25, 10);
    expect(rows[1].vs_control!.p_value).toBeCloseTo(0.00742, 4);
    expect(rows[1].vs_control!.significant).toBe(true);
    expect(rows[2].vs_control).toMatchObject({ uplift: 0, p_value: 1, significant: false });
    expect(rows[1].ci95[0]).toBeLessThan(0.25);
    expect(rows[1].ci95[1]).toBeGreaterThan(0.25);
  });

  it('takes the control asked for, and never calls an arm of fewer than 30 significant', () => {
    const rows = compareVariants([row('old', 29, 0), row('new', 29, 29)], 'new');
    expect(rows[1].vs_control).toBeNull();
    expect(rows[0].vs_control!.p_value).toBeLessThan(1e-9);
    expect(rows[0].vs_control!.significant).toBe(false);
    expect(rows[0].vs_control!.uplift).toBe(-1);
    // An unknown control falls back to the most entries; a control that converts none has no uplift.
    const fallback = compareVariants([row('x', 40, 0), row('y', 50, 0), row(null, 10, 3)], 'nope');
    expect(fallback.find((r) => r.variant === 'y')!.vs_control).toBeNull();
    expect(fallback.find((r) => r.variant === null)!.vs_control!.uplift).toBeNull();
  });
});
