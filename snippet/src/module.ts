// ESM build for bundlers: `import { init, track } from 'funnelbeam'`. The same tracker and
// wire format as /f.js, automatic capture included. The tracker is imported lazily (esbuild
// inlines it, evaluated on first init), so importing this module during SSR is safe.
import type { Send, TrackOptions } from './tracker';

export type { PropValue, TrackOptions } from './tracker';

export interface InitOptions {
  /** The registered site's domain. */
  site: string;
  /** Collector endpoint; default `/api/event` on the page's origin. */
  api?: string;
  /** `'visitor'` keeps a first-party visitor id in localStorage (sites with consent). */
  persist?: 'visitor';
  /** Count pages on localhost and file: too. */
  allowLocal?: boolean;
}

let send: Send | undefined;
let started = false;
const early: [string, TrackOptions | undefined][] = [];

/** Starts the tracker once, in the browser; returns when it runs (later on a prerendered page). */
export async function init(options: InitOptions): Promise<void> {
  if (started) return;
  started = true;
  const { blocked, startTracker, whenShown } = await import('./tracker');
  // Opted out or local: track() becomes a no-op rather than a growing queue.
  if (blocked(!!options.allowLocal)) {
    send = () => {};
    return;
  }
  whenShown(() => {
    send = startTracker(options, options.api || '/api/event');
    for (const [name, opts] of early.splice(0)) send(name, opts);
  });
}

/** Sends an event; calls made before the tracker runs wait for it, in order. */
export function track(name: string, options?: TrackOptions): void {
  if (send) send(name, options);
  else early.push([name, options]);
}
