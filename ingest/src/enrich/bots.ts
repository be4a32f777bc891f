// Bot detection: isbot's maintained crawler list, plus "no User-Agent at all is a bot".
import { createIsbotFromList, isbot, list } from 'isbot';
import { boundedMemo } from './memo.js';

export interface BotOptions {
  /** Let headless browsers through (the collector's flag for its own real-browser e2e tests). */
  allowHeadless?: boolean;
}

// isbot's patterns for headless browsers (today just "headless", matching HeadlessChrome).
const isHeadlessPattern = (pattern: string): boolean => /headless/i.test(pattern);
const isbotAllowingHeadless = createIsbotFromList(list.filter((p) => !isHeadlessPattern(p)));

const strict = boundedMemo((ua: string) => isbot(ua));
const allowingHeadless = boundedMemo((ua: string) => isbotAllowingHeadless(ua));

/** True for crawlers, scripts and tools, and for a missing or blank User-Agent. */
export function isBot(userAgent: string | undefined, options: BotOptions = {}): boolean {
  if (userAgent === undefined || userAgent.trim() === '') return true;
  return options.allowHeadless === true ? allowingHeadless(userAgent) : strict(userAgent);
}
