// The size budget: the served /f.js, gzip -9, with every feature in, stays under 1,400 B
// (Plausible's full build: 2,696 B; Umami ~2,227 B; Counterscale 1,900 B, pageviews only).
import { describe, expect, it } from 'vitest';
import { buildModule, buildSnippet, gzipSize } from '../build';

const BUDGET = 1400;

describe('snippet size', () => {
  it(`f.js is at most ${BUDGET} B gzip -9`, async () => {
    const { js, gzipBytes } = await buildSnippet();
    expect(gzipBytes).toBe(gzipSize(js));
    expect(gzipBytes).toBeGreaterThan(500); // a broken build is not a small one
    expect(gzipBytes).toBeLessThanOrEqual(BUDGET);
  });

  it('f.js is one self-contained IIFE: no imports, no exports, no globals but funnel', async () => {
    const { js } = await buildSnippet();
    expect(js.startsWith('(()=>{')).toBe(true);
    expect(js.trimEnd().endsWith('})();')).toBe(true);
    expect(js).not.toMatch(/\bimport\b|\bexport\b|require\(/);
  });

  it('the ESM module exports init and track', async () => {
    const mjs = await buildModule();
    expect(mjs).toMatch(/export\s*\{[^}]*\binit\b[^}]*\}/);
    expect(mjs).toMatch(/export\s*\{[^}]*\btrack\b[^}]*\}/);
  });
});
