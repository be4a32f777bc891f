// Small builders for hand-made journeys.
import { parseFunnelDefinition, type FunnelDefinition, type ParsedFunnel } from '../../src/funnel/index.js';
import type { FunnelEvent } from '../../src/funnel/index.js';

export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** 2026-01-01T00:00:00Z */
export const T0 = Date.UTC(2026, 0, 1);

export function funnel(window: string, steps: FunnelDefinition['steps'], name = 'Test'): ParsedFunnel {
  const result = parseFunnelDefinition({ name, window, steps });
  if (!result.ok) throw new Error(`${result.field}: ${result.error}`);
  return result.funnel;
}

/** Home → Signup → Deal → Purchase, in a 1h window. */
export const shop = funnel('1h', [
  { name: 'Home', event: 'pageview', path: '/' },
  { name: 'Signup', event: 'signup' },
  { name: 'Deal', event: 'pageview', path: '/deals/*' },
  { name: 'Purchase', event: 'purchase', props: { paid: 'true' } },
]);

export function event(ts: number, name: string, fields: Partial<FunnelEvent> = {}): FunnelEvent {
  return {
    ts,
    name,
    path: '/',
    props: null,
    channel: 'Direct',
    source: null,
    medium: null,
    campaign: null,
    device: 'desktop',
    browser: 'Firefox',
    variant: null,
    landing: '/',
    revenue_amount: null,
    revenue_currency: null,
    engaged_ms: null,
    scroll: null,
    session: 's1',
    ...fields,
  };
}

export const page = (ts: number, path: string, fields: Partial<FunnelEvent> = {}) => event(ts, 'pageview', { path, ...fields });
