// The size budget: the served /f.js, gzip -9, with every feature in, stays under 1,400 B
// (Plausible's full build: 2,696 B; Umami ~2,227 B; Counterscale 1,900 B, pageviews only).
import { describe, expect, it } from 'vitest';
import { buildHeatmapCapture, buildModule, buildOverlay, buildSnippet, gzipSize } from '../build';

const BUDGET = 1400;
/** The heatmap capture file, loaded only on pages with data-heatmaps (Clarity's full tag: ~25 KB). */
const CAPTURE_BUDGET = 1200;

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
    // No static import: the one dynamic import() is the heatmap capture, on data-heatmaps only.
    expect(js).not.toMatch(/\bimport(?!\()|\bexport\b|require\(/);
    expect(js.match(/\bimport\(/g)).toHaveLength(1);
  });

  it('the ESM module exports init and track', async () => {
    const mjs = await buildModule();
    expect(mjs).toMatch(/export\s*\{[^}]*\binit\b[^}]*\}/);
    expect(mjs).toMatch(/export\s*\{[^}]*\btrack\b[^}]*\}/);
  });

  it(`f-heatmaps.js (capture) is at most ${CAPTURE_BUDGET} B gzip -9, and f.js only loads it on data-heatmaps`, async () => {
    const [capture, { js }] = await Promise.all([buildHeatmapCapture(), buildSnippet()]);
    expect(capture.gzipBytes).toBe(gzipSize(capture.js));
    expect(capture.gzipBytes).toBeGreaterThan(400);
    expect(capture.gzipBytes).toBeLessThanOrEqual(CAPTURE_BUDGET);
    expect(js).toMatch(/"heatmaps"in \w+&&import\(new URL\("f-heatmaps\.js"/);
  });

  it('f-overlay.js is one IIFE that reads its data and sets styles through the CSSOM only', async () => {
    const { js, gzipBytes } = await buildOverlay();
    expect(js.startsWith('(()=>{')).toBe(true);
    expect(gzipBytes).toBeLessThanOrEqual(2000);
    expect(js).not.toMatch(/innerHTML|setAttribute\("style"|<style/);
  });
});
