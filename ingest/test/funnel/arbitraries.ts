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

/** Random funnels of 2..maxSteps steps from the pool, with one of these windows. */
export function funnelArbOf(windows: readonly string[], maxSteps: number): fc.Arbitrary<ParsedFunnel> {
  return fc
    .record({
      window: fc.constantFrom(...windows),
      steps: fc.array(fc.constantFrom(...stepPool), { minLength: 2, maxLength: maxSteps }),
    })
    .map(({ window, steps }) => {
      const result = parseFunnelDefinition({ name: 'Random', window, steps });
      if (!result.ok) throw new Error(result.error);
      return result.funnel;
    });
}

export const funnelArb = funnelArbOf(['10m', '30m', '1h', '2h'], 5);

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
