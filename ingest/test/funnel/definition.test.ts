import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  compilePathPattern,
  funnelDefinitionSchema,
  parseFunnelDefinition,
  parseWindow,
  stepMatches,
} from '../../src/funnel/index.js';
import { event, funnel } from './helpers.js';

const contractExample = {
  name: 'Deal purchase',
  window: '7d',
  steps: [
    { name: 'Landing', event: 'pageview', path: '/' },
    { name: 'Signup', event: 'signup' },
    { name: 'Deal detail', event: 'pageview', path: '/deals/*' },
    { name: 'Cart', event: 'add_to_cart' },
    { name: 'Purchase', event: 'purchase', props: { paid: 'true' } },
  ],
};

const twoSteps = [
  { name: 'A', event: 'pageview' },
  { name: 'B', event: 'signup' },
];

describe('parseFunnelDefinition', () => {
  it('accepts the contract example and keeps it as given', () => {
    const result = parseFunnelDefinition(contractExample);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.funnel.windowMs).toBe(7 * 86_400_000);
    expect(result.funnel.definition).toEqual(contractExample);
    expect(result.funnel.steps.map((step) => step.pathPattern?.source ?? null)).toEqual([
      '^\\/$',
      null,
      '^\\/deals\\/.*$',
      null,
      null,
    ]);
  });

  it('normalises property values to strings', () => {
    const result = parseFunnelDefinition({
      name: 'n',
      window: '1h',
      steps: [{ name: 'A', event: 'pageview' }, { name: 'B', event: 'purchase', props: { paid: true, qty: 2 } }],
    });
    expect(result.ok && result.funnel.steps[1].props).toEqual({ paid: 'true', qty: '2' });
  });

  it.each([
    [null, ''],
    [[], ''],
    [{ name: 'n', window: '1h', steps: twoSteps, extra: 1 }, 'extra'],
    [{ window: '1h', steps: twoSteps }, 'name'],
    [{ name: '', window: '1h', steps: twoSteps }, 'name'],
    [{ name: '   ', window: '1h', steps: twoSteps }, 'name'],
    [{ name: 'x'.repeat(101), window: '1h', steps: twoSteps }, 'name'],
    [{ name: 'n', steps: twoSteps }, 'window'],
    [{ name: 'n', window: 7, steps: twoSteps }, 'window'],
    [{ name: 'n', window: '0m', steps: twoSteps }, 'window'],
    [{ name: 'n', window: '91d', steps: twoSteps }, 'window'],
    [{ name: 'n', window: '2161h', steps: twoSteps }, 'window'],
    [{ name: 'n', window: '1w', steps: twoSteps }, 'window'],
    [{ name: 'n', window: ' 1h', steps: twoSteps }, 'window'],
    [{ name: 'n', window: '1h', steps: [twoSteps[0]] }, 'steps'],
    [{ name: 'n', window: '1h', steps: Array.from({ length: 21 }, () => twoSteps[0]) }, 'steps'],
    [{ name: 'n', window: '1h', steps: 'a,b' }, 'steps'],
    [{ name: 'n', window: '1h', steps: [twoSteps[0], 'signup'] }, 'steps[1]'],
    [{ name: 'n', window: '1h', steps: [twoSteps[0], { name: 'B' }] }, 'steps[1].event'],
    [{ name: 'n', window: '1h', steps: [twoSteps[0], { name: 'B', event: 'sign/up' }] }, 'steps[1].event'],
    [{ name: 'n', window: '1h', steps: [twoSteps[0], { name: 'B', event: 'e'.repeat(65) }] }, 'steps[1].event'],
    [{ name: 'n', window: '1h', steps: [twoSteps[0], { event: 'signup' }] }, 'steps[1].name'],
    [{ name: 'n', window: '1h', steps: [{ name: 'A', event: 'pageview', path: 'deals' }, twoSteps[1]] }, 'steps[0].path'],
    [{ name: 'n', window: '1h', steps: [{ name: 'A', event: 'pageview', path: '/a b' }, twoSteps[1]] }, 'steps[0].path'],
    [{ name: 'n', window: '1h', steps: [{ name: 'A', event: 'pageview', paths: '/' }, twoSteps[1]] }, 'steps[0].paths'],
    [{ name: 'n', window: '1h', steps: [twoSteps[0], { name: 'B', event: 'buy', props: { paid: null } }] }, 'steps[1].props'],
    [{ name: 'n', window: '1h', steps: [twoSteps[0], { name: 'B', event: 'buy', props: ['paid'] }] }, 'steps[1].props'],
  ])('rejects %j at field %j', (input, field) => {
    const result = parseFunnelDefinition(input);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.field).toBe(field);
      expect(result.error.length).toBeGreaterThan(5);
    }
  });

  it('parses windows from 1 minute to 90 days', () => {
    expect(parseWindow('1m')).toBe(60_000);
    expect(parseWindow('30m')).toBe(1_800_000);
    expect(parseWindow('12h')).toBe(43_200_000);
    expect(parseWindow('90d')).toBe(7_776_000_000);
    expect(parseWindow('2160h')).toBe(7_776_000_000);
    expect(parseWindow('129601m')).toBeNull();
    expect(parseWindow('0d')).toBeNull();
    expect(parseWindow('1.5h')).toBeNull();
  });
});

describe('funnelDefinitionSchema', () => {
  // Fastify's own ajv options, so the route behaves as tested here.
  const ajv = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: true, allErrors: false });
  const validate = ajv.compile(funnelDefinitionSchema);

  it('accepts what the parser accepts', () => {
    expect(validate(structuredClone(contractExample))).toBe(true);
    expect(validate({ name: 'n', window: '90d', steps: [twoSteps[0], { name: 'B', event: 'buy', props: { paid: true } }] })).toBe(true);
  });

  it.each([
    { name: 'n', window: '1h', steps: [twoSteps[0]] },
    { name: 'n', window: '1w', steps: twoSteps },
    { name: ' ', window: '1h', steps: twoSteps },
    { name: 'n', window: '1h', steps: [twoSteps[0], { name: 'B', event: 'sign/up' }] },
    { name: 'n', window: '1h', steps: [{ name: 'A', event: 'pageview', path: 'deals' }, twoSteps[1]] },
    // (ajv's coercion, as Fastify sets it, would turn a null value into "": an object cannot be coerced)
    { name: 'n', window: '1h', steps: [twoSteps[0], { name: 'B', event: 'buy', props: { paid: { yes: 1 } } }] },
  ])('rejects what the parser rejects: %j', (input) => {
    expect(validate(input)).toBe(false);
    expect(parseFunnelDefinition(input).ok).toBe(false);
  });
});

describe('path patterns', () => {
  it.each([
    ['/', '/', true],
    ['/', '/about', false],
    ['/', '', false],
    ['/pricing', '/pricing', true],
    ['/pricing', '/pricing/', false],
    ['/pricing', '/pricing/extra', false],
    ['/deals/*', '/deals/chicago-spa', true],
    ['/deals/*', '/deals/', true],
    ['/deals/*', '/deals/a/b', true],
    ['/deals/*', '/deals', false],
    ['/deals/*', '/old/deals/x', false],
    ['/*/checkout', '/en/checkout', true],
    ['/*/checkout', '/en/us/checkout', true],
    ['/*/checkout', '/en/checkout/done', false],
    ['/a.b', '/aXb', false],
    ['/a.b', '/a.b', true],
    ['/(x)+', '/(x)+', true],
    ['/(x)+', '/xx', false],
    ['*', '/anything', true],
  ])('%s matches %s: %s', (pattern, path, expected) => {
    expect(compilePathPattern(pattern).test(path)).toBe(expected);
  });
});

describe('stepMatches', () => {
  const f = funnel('1h', [
    { name: 'Deal', event: 'pageview', path: '/deals/*' },
    { name: 'Paid', event: 'purchase', props: { paid: 'true', plan: 'pro' } },
    { name: 'Qty', event: 'purchase', props: { qty: '2' } },
  ]);

  it('needs the same event name and a matching path', () => {
    expect(stepMatches(f.steps[0], event(0, 'pageview', { path: '/deals/x' }))).toBe(true);
    expect(stepMatches(f.steps[0], event(0, 'pageview', { path: '/deal/x' }))).toBe(false);
    expect(stepMatches(f.steps[0], event(0, 'Pageview', { path: '/deals/x' }))).toBe(false);
    expect(stepMatches(f.steps[0], event(0, 'click', { path: '/deals/x' }))).toBe(false);
  });

  it('compares properties as strings, all of them', () => {
    expect(stepMatches(f.steps[1], event(0, 'purchase', { props: { paid: true, plan: 'pro' } }))).toBe(true);
    expect(stepMatches(f.steps[1], event(0, 'purchase', { props: { paid: 'true', plan: 'pro', x: 1 } }))).toBe(true);
    expect(stepMatches(f.steps[1], event(0, 'purchase', { props: { paid: false, plan: 'pro' } }))).toBe(false);
    expect(stepMatches(f.steps[1], event(0, 'purchase', { props: { paid: 'TRUE', plan: 'pro' } }))).toBe(false);
    expect(stepMatches(f.steps[1], event(0, 'purchase', { props: { paid: true } }))).toBe(false);
    expect(stepMatches(f.steps[1], event(0, 'purchase', { props: null }))).toBe(false);
    expect(stepMatches(f.steps[2], event(0, 'purchase', { props: { qty: 2 } }))).toBe(true);
    expect(stepMatches(f.steps[2], event(0, 'purchase', { props: { qty: 2.5 } }))).toBe(false);
  });

  it('does not read inherited properties', () => {
    const g = funnel('1h', [twoSteps[0], { name: 'B', event: 'buy', props: { toString: 'x' } }]);
    expect(stepMatches(g.steps[1], event(0, 'buy', { props: {} }))).toBe(false);
    expect(stepMatches(g.steps[1], event(0, 'buy', { props: { toString: 'x' } }))).toBe(true);
  });
});
