// A/B variants side by side (CONTRACT.md, "Report: more fields", `variants`): each variant's
// conversion with its 95% confidence interval (Wilson score), and against the control a
// two-sided two-proportion z-test at 0.05. Pure; computed from the report's breakdown by variant.
import type { BreakdownReport } from './report.js';

export interface VariantComparison {
  /** Relative change of the conversion rate against the control's ((p - pc) / pc); null when the control converts none. */
  uplift: number | null;
  p_value: number;
  /** p < 0.05 with at least MIN_ARM_ENTRIES entries in both arms. */
  significant: boolean;
}

export interface VariantRow {
  variant: string | null;
  entered: number;
  converted: number;
  conversion_rate: number;
  /** 95% Wilson score interval of the conversion rate ([0, 0] with no entries). */
  ci95: [number, number];
  /** Null for the control itself. */
  vs_control: VariantComparison | null;
}

/** Fewer entries than this in either arm is never significant: the normal approximation does not hold. */
export const MIN_ARM_ENTRIES = 30;
export const SIGNIFICANCE = 0.05;
const Z95 = 1.959963984540054;

/** The standard normal CDF, through erfc (W. J. Cody's rational Chebyshev fit is overkill: this keeps 1e-7). */
export function normalCdf(z: number): number {
  return 1 - 0.5 * erfc(z / Math.SQRT2);
}

// Numerical Recipes' erfc (Chebyshev fit), fractional error below 1.2e-7 everywhere.
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** The 95% Wilson score interval of `successes` out of `trials`. */
export function wilson(successes: number, trials: number): [number, number] {
  if (trials === 0) return [0, 0];
  const p = successes / trials;
  const z2 = Z95 * Z95;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (Z95 * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / (1 + z2 / trials);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Two-sided p-value of the pooled two-proportion z-test; 1 when the pooled rate leaves no variance to test. */
export function twoProportionPValue(x1: number, n1: number, x2: number, n2: number): number {
  if (n1 === 0 || n2 === 0) return 1;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return 1;
  const z = (x1 / n1 - x2 / n2) / se;
  return Math.min(1, 2 * (1 - normalCdf(Math.abs(z))));
}

/**
 * One row per variant of a breakdown by variant. The control is `control` when such a variant
 * is there, else the variant with the most entries (ties: the first by name).
 */
export function compareVariants(breakdown: readonly BreakdownReport[], control?: string): VariantRow[] {
  const arms = breakdown.map((row) => ({ variant: row.key, entered: row.steps[0]?.entered ?? 0, converted: row.converted }));
  const chosen = arms.find((arm) => control !== undefined && arm.variant === control)
    ?? [...arms].sort((a, b) => b.entered - a.entered || String(a.variant ?? '').localeCompare(String(b.variant ?? '')))[0];
  return arms.map((arm) => {
    const rate = arm.entered === 0 ? 0 : arm.converted / arm.entered;
    let vs: VariantComparison | null = null;
    if (chosen && arm !== chosen) {
      const controlRate = chosen.entered === 0 ? 0 : chosen.converted / chosen.entered;
      const p = twoProportionPValue(arm.converted, arm.entered, chosen.converted, chosen.entered);
      vs = {
        uplift: controlRate === 0 ? null : (rate - controlRate) / controlRate,
        p_value: p,
        significant: p < SIGNIFICANCE && arm.entered >= MIN_ARM_ENTRIES && chosen.entered >= MIN_ARM_ENTRIES,
      };
    }
    return { variant: arm.variant, entered: arm.entered, converted: arm.converted, conversion_rate: rate, ci95: wilson(arm.converted, arm.entered), vs_control: vs };
  });
}
