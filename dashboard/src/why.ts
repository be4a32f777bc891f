// Why entries went on or stopped: the API's correlation (GET .../correlation) for the funnel, or
// for the step picked in the report, as its top factors in words ("Visitors from newsletter
// (source) converted 3.1× more often"), each said significant or not, with its counts.
import { api, type Correlation, type Factor, type FactorKind } from './api.js';
import { fill, h } from './dom.js';
import { count, displayPath, pct, pValue, times } from './format.js';
import type { PeopleWhere } from './people.js';

/** Factors shown at most, the most significant first (the API's order). */
export const WHY_FACTORS = 8;
/** Below this p-value a factor is said to be significant: a two-sided test at 5%. */
export const SIGNIFICANT_P = 0.05;

/** Who has a factor, in words. */
const WHO: Record<FactorKind, (value: string) => string> = {
  channel: (v) => `Visitors from ${v} (channel)`,
  source: (v) => `Visitors from ${v} (source)`,
  campaign: (v) => `Visitors from the ${v} campaign`,
  landing: (v) => `Visitors landing on ${displayPath(v)}`,
  device: (v) => `Visitors on ${v} (device)`,
  browser: (v) => `Visitors using ${v}`,
  variant: (v) => `Visitors shown variant ${v}`,
  event: (v) => `Visitors who did “${v}”`,
  page: (v) => `Visitors who viewed ${displayPath(v)}`,
};

/** How much more (or less) often those with the factor went on than those without it. */
export function howOften(factor: Factor, verb: string): string {
  const ratio = factor.rate_ratio;
  if (ratio === null) return factor.went_on ? `${verb}, and none of the others did` : `never ${verb}, nor did the others`;
  if (ratio === 0) return `never ${verb}`;
  const text = times(ratio >= 1 ? ratio : 1 / ratio);
  if (text === times(1)) return `${verb} about as often as the others`;
  return `${verb} ${text} ${ratio >= 1 ? 'more' : 'less'} often`;
}

/**
 * The panel, kept across redraws of the report: `show` asks for the correlation of the shown
 * report's funnel and range, from the picked step (0-based; the last one or none: conversion),
 * only when one of them changed.
 */
export function whyPanel(): { element: HTMLElement; show(where: PeopleWhere, picked: number | null): void } {
  const body = h('div', {});
  const title = h('h2', { id: 'why-title' });
  const element = h('section', { class: 'card why', id: 'why', 'aria-labelledby': 'why-title', 'aria-busy': 'true' }, title, body);
  let shown: string | null = null;

  async function show(where: PeopleWhere, picked: number | null): Promise<void> {
    const step = picked !== null && picked < where.steps.length - 1 ? picked + 1 : null;
    const key = JSON.stringify([where.site, where.funnel, where.range.from, where.range.to, step]);
    if (key === shown) return;
    shown = key;
    const next = step === null ? null : where.steps[step];
    fill(title, step === null ? 'Why they converted' : `Why they went on from step ${step}`);
    element.dataset.whyStep = step === null ? '' : String(step);
    element.setAttribute('aria-busy', 'true');
    try {
      const correlation = await api.correlation(where.site, where.funnel, where.range, step);
      if (shown !== key) return;
      fill(body, ...factorsOf(correlation, step === null ? 'converted' : 'went on', step === null ? 'converted' : `went on to “${next?.name ?? ''}”`));
    } catch (error) {
      if (shown !== key) return;
      shown = null; // asked again at the next redraw
      fill(body, h('p', { class: 'error' }, `Could not load the factors: ${(error as Error).message}`));
    } finally {
      if (shown === key) element.setAttribute('aria-busy', 'false');
    }
  }

  return { element, show: (where, picked) => void show(where, picked) };
}

/** `verb`: what going on is ("converted", "went on"); `goal`: the same, for the hint. */
function factorsOf(correlation: Correlation, verb: string, goal: string): HTMLElement[] {
  const { went_on: wentOn, stopped } = correlation;
  const factors = correlation.factors.slice(0, WHY_FACTORS);
  const compared = h('p', { class: 'hint' },
    `Entries that ${goal} (${count(wentOn)}) against those that did not (${count(stopped)}); those still in flight count in neither. `,
    `The most telling factors first; significant: p < ${SIGNIFICANT_P}.`);
  if (!factors.length) {
    return [compared, h('p', { class: 'muted', 'data-why': 'none' }, 'Not enough data yet: no factor is shared by enough entries, and missing from enough others, to compare.')];
  }
  return [compared, h('ol', { class: 'factors' }, ...factors.map((factor) => factorItem(factor, verb, wentOn, stopped)))];
}

function factorItem(factor: Factor, verb: string, wentOn: number, stopped: number): HTMLElement {
  const significant = factor.p_value < SIGNIFICANT_P;
  const withIt = factor.went_on + factor.stopped;
  const others = wentOn + stopped - withIt;
  const othersOn = wentOn - factor.went_on;
  const p = pValue(factor.p_value);
  return h(
    'li',
    { class: `factor${significant ? ' significant' : ''}`, 'data-factor-kind': factor.kind, 'data-factor-value': factor.value },
    h(
      'p',
      { class: 'factor-text' },
      h('strong', { class: 'factor-who' }, WHO[factor.kind]?.(factor.value) ?? `${factor.kind} ${factor.value}`),
      ' ',
      h('span', { class: 'factor-how' }, howOften(factor, verb)),
      ' ',
      h('span', { class: `sig ${significant ? 'yes' : 'no'}` }, significant ? 'significant' : 'not significant'),
    ),
    h(
      'p',
      { class: 'hint factor-counts' },
      `${count(factor.went_on)} of ${count(withIt)} with it ${verb} (${pct(withIt ? factor.went_on / withIt : 0)}), `,
      `${count(othersOn)} of ${count(others)} without it (${pct(others ? othersOn / others : 0)}) · p ${p.startsWith('<') ? p : `= ${p}`}`,
    ),
  );
}
