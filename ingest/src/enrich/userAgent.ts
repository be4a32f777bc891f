// Browser, OS and device type from a User-Agent, memoized: parsing costs tens of µs per call.
import { UAParser } from 'ua-parser-js';
import { boundedMemo } from './memo.js';

/** ua-parser-js device types, plus 'desktop' for a browser that names no device. */
export type DeviceType =
  | 'desktop'
  | 'mobile'
  | 'tablet'
  | 'smarttv'
  | 'console'
  | 'wearable'
  | 'embedded';

export interface ParsedUserAgent {
  browser: string | null;
  os: string | null;
  device: DeviceType | null;
}

const DEVICE_TYPES: ReadonlySet<string> = new Set<DeviceType>([
  'mobile', 'tablet', 'smarttv', 'console', 'wearable', 'embedded',
]);

function parseUncached(ua: string): ParsedUserAgent {
  const result = new UAParser(ua).getResult();
  // "Mobile Safari" and "Safari" are one browser for a breakdown; the device column says mobile.
  const browser = result.browser.name?.replace(/^Mobile /, '') ?? null;
  const os = result.os.name ?? null;
  const type = result.device.type;
  let device: DeviceType | null = null;
  if (type !== undefined && DEVICE_TYPES.has(type)) device = type as DeviceType;
  // Desktop browsers announce no device type; anything without a browser is not known to be one.
  else if (browser !== null) device = 'desktop';
  // Frozen: one cached object is shared by every event with this User-Agent.
  return Object.freeze({ browser, os, device });
}

const parseMemo = boundedMemo(parseUncached);

/** Browser name, OS name and device type of a User-Agent (nulls when unknown). */
export function parseUserAgent(ua: string): Readonly<ParsedUserAgent> {
  return parseMemo(ua);
}
