// Random funnels and events for property tests (the engine's, and the stores' conformance).
import fc from 'fast-check';
import { parseFunnelDefinition, type FunnelEvent, type ParsedFunnel, type StepDefinition } from '../../src/funnel/index.js';
import { event, MIN, T0 } from './helpers.js';

export const stepPool: StepDefinition[] = [
  { name: 'Home', event: 'pageview', path: '/' },
  { name: 'Any page', event: 'pageview' },
  { name: 'Deal', event: 'pageview', path: '/deals/*' },
  { name: 'Signup', event: 'signup' },
  { name: 'Paid', event: 'purchase', props: { paid: 'true' } },
  { name: 'Purchase', event: 'purchase' },
];

/**
 * Random funnels of 2..maxSteps steps from the pool, with one of these windows; now and then in
 * strict or any order, with a step time limit (5 minutes: within every window used) and an
 * exclusion.
 */
export function funnelArbOf(windows: readonly string[], maxSteps: number, options: { plain?: boolean } = {}): fc.Arbitrary<ParsedFunnel> {
  const none = fc.constant(null);
  return fc
    .record({
      window: fc.constantFrom(...windows),
      steps: fc.array(fc.constantFrom(...stepPool), { minLength: 2, maxLength: maxSteps }),
      order: options.plain ? fc.constant(undefined) : fc.constantFrom(undefined, undefined, undefined, 'strict', 'any'),
      within: options.plain ? none : fc.option(fc.nat(), { freq: 3 }),
      exclusion: options.plain ? none : fc.option(fc.record({ step: fc.constantFrom(...stepPool), from: fc.nat() }), { freq: 3 }),
    })
    .map(({ window, steps, order, within, exclusion }) => {
      const limited = within !== null && order !== 'any' ? 1 + (within % (steps.length - 1)) : -1;
      const between = exclusion && 1 + (exclusion.from % (steps.length - 1));
      const result = parseFunnelDefinition({
        name: 'Random', window, ...(order ? { order } : {}),
        steps: steps.map((step, k) => (k === limited ? { ...step, within: '5m' } : step)),
        ...(exclusion && between ? { exclusions: [{ event: exclusion.step.event, ...(exclusion.step.path ? { path: exclusion.step.path } : {}), between: [between, between + 1] }] } : {}),
      });
      if (!result.ok) throw new Error(result.error);
      return result.funnel;
    });
}

export const funnelArb = funnelArbOf(['10m', '30m', '1h', '2h'], 5);
/** Steps in order, no step time limit, no exclusion: what the first definitions could say. */
export const plainFunnelArb = funnelArbOf(['10m', '30m', '1h', '2h'], 5, { plain: true });

export const eventArb: fc.Arbitrary<FunnelEvent> = fc
  .record({
    minute: fc.integer({ min: 0, max: 240 }),
    name: fc.constantFrom('pageview', 'pageview', 'signup', 'purchase', 'engagement'),
    path: fc.constantFrom('/', '/deals/a', '/deals/b', '/about'),
    paid: fc.constantFrom(undefined, true, 'true', false),
    session: fc.constantFrom('s1', 's2'),
    channel: fc.constantFrom('Direct', 'Organic Search', 'Email'),
    source: fc.constantFrom(null, 'google', 'news'),
    campaign: fc.constantFrom(null, 'spring', 'spa'),
    device: fc.constantFrom(null, 'mobile', 'desktop'),
    browser: fc.constantFrom('Firefox', 'Chrome'),
    variant: fc.constantFrom(null, 'A', 'B'),
    landing: fc.constantFrom('/', '/deals/a'),
    engaged: fc.option(fc.integer({ min: 0, max: 60_000 })),
    scroll: fc.option(fc.integer({ min: 0, max: 100 })),
    revenue: fc.option(fc.constantFrom(9.99, 25, 0.1)),
    currency: fc.constantFrom('USD', 'EUR'),
  })
  .map((r) =>
    event(T0 + r.minute * MIN, r.name, {
      path: r.path,
      props: r.paid === undefined ? null : { paid: r.paid },
      session: r.session,
      channel: r.channel,
      source: r.source,
      campaign: r.campaign,
      device: r.device,
      browser: r.browser,
      variant: r.variant,
      landing: r.landing,
      engaged_ms: r.engaged,
      scroll: r.scroll,
      revenue_amount: r.revenue,
      revenue_currency: r.revenue === null ? null : r.currency,
    }),
  );
