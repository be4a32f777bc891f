// The heatmap data of an engagement event, checked field by field, and what a chunk adds to the
// sums; the overlay's signed token.
import { describe, expect, it } from 'vitest';
import { deviceOfViewport, depthsReached, heatmapOfPeople, pathFilter, takeHeatmap, type HeatmapViewRow } from '../../src/heatmaps/capture.js';
import { signOverlayToken, verifyOverlayToken, type OverlayGrant } from '../../src/heatmaps/overlayToken.js';

describe('takeHeatmap', () => {
  it('keeps good clicks, drops bad ones one by one, and takes the field off the event', () => {
    const event: Record<string, unknown> = {
      name: 'engagement',
      heatmap: { viewport: 1280, seen: 40.4, clicks: [{ selector: '#a', x: 0, y: 1, rage: true }, { selector: '', x: 0, y: 0 }, { selector: '#b', x: -0.1, y: 0 }, { selector: '#c', x: Infinity, y: 0 }, { selector: 'a\nb', x: 0, y: 0 }, 'x', { selector: '#d', x: 0.5, y: 0.5, rage: 'yes' }] },
    };
    expect(takeHeatmap(event)).toEqual({ device: 'desktop', seen: 40, clicks: [{ selector: '#a', x: 0, y: 1, rage: true }, { selector: '#d', x: 0.5, y: 0.5, rage: false }] });
    expect(event).toEqual({ name: 'engagement' });
  });

  it('drops an oversized list whole, a bad viewport with the chunk, a bad seen alone', () => {
    const huge = Array.from({ length: 201 }, () => ({ selector: '#a', x: 0, y: 0 }));
    expect(takeHeatmap({ heatmap: { viewport: 390, clicks: huge } })).toEqual({ device: 'mobile', clicks: [], seen: null });
    expect(takeHeatmap({ heatmap: { viewport: 0, clicks: [] } })).toBeUndefined();
    expect(takeHeatmap({ heatmap: { viewport: 800.5 } })).toBeUndefined();
    expect(takeHeatmap({ heatmap: 'x' })).toBeUndefined();
    expect(takeHeatmap({})).toBeUndefined();
    expect(takeHeatmap({ heatmap: { viewport: 800, seen: 101 } })).toEqual({ device: 'tablet', clicks: [], seen: null });
  });

  it('classes devices by viewport width', () => {
    expect([320, 767, 768, 1023, 1024, 3840].map(deviceOfViewport)).toEqual(['mobile', 'mobile', 'tablet', 'tablet', 'desktop', 'desktop']);
  });
});

describe('depthsReached', () => {
  it('counts the pageview on its first chunk and each 10% once over its chunks', () => {
    expect(depthsReached(35, null)).toEqual([0, 10, 20, 30]);
    expect(depthsReached(72, 35)).toEqual([40, 50, 60, 70]);
    expect(depthsReached(72, 72)).toEqual([]);
    expect(depthsReached(9, null)).toEqual([0]);
    expect(depthsReached(null, null)).toEqual([0]);
    expect(depthsReached(100, 95)).toEqual([100]);
  });
});

describe('pathFilter and the funnel split', () => {
  it('narrows a pattern to its prefix and matches the rest', () => {
    const filter = pathFilter('/deals/*/buy');
    expect(filter.from).toBe('/deals/');
    expect(['/deals/spa/buy', '/deals/x/y/buy', '/deals/spa', '/about'].map(filter.matches)).toEqual([true, true, false, false]);
    expect(pathFilter('/a').matches('/a')).toBe(true);
  });

  it('counts a person’s chunks inside their span, by visitor or by lead', () => {
    const row = (visitor: string, lead: string | null, ts: number): HeatmapViewRow => ({ ts, visitor, lead, path: '/p', device: 'desktop', seen: null, scroll: 20, clicks: [{ selector: '#a', x: 0.5, y: 0.5, rage: false }] });
    const rows = [row('v1', null, 10), row('v1', null, 50), row('v2', 'l2', 10), row('v3', null, 10)];
    const heatmap = heatmapOfPeople(rows, [{ visitor: 'v1', lead: null, fromMs: 0, toMs: 20 }, { visitor: null, lead: 'l2', fromMs: 0, toMs: 20 }], () => true);
    expect(heatmap.pageviews).toBe(2);
    expect(heatmap.clicks).toEqual([{ selector: '#a', x: 0.5, y: 0.5, count: 2, rage: 0 }]);
  });
});

describe('overlay tokens', () => {
  const grant: OverlayGrant = { site: 's', path: '/p', from: '2026-01-01', to: '2026-01-02', device: null, funnel: null, step: null, status: null, expires: 1_000 };
  it('verifies what it signed until it expires, and nothing forged or altered', () => {
    const token = signOverlayToken('secret', grant);
    expect(verifyOverlayToken('secret', token, 999)).toEqual(grant);
    expect(verifyOverlayToken('secret', token, 1_000)).toBeNull();
    expect(verifyOverlayToken('other', token, 0)).toBeNull();
    const [, signature] = token.split('.');
    const widened = Buffer.from(JSON.stringify({ ...grant, site: 't' })).toString('base64url');
    expect(verifyOverlayToken('secret', `${widened}.${signature}`, 0)).toBeNull();
    expect(verifyOverlayToken('secret', 'garbage', 0)).toBeNull();
  });
});
