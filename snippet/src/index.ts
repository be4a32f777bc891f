// Entry of /f.js: configured by its own <script> attributes; replaces the `funnel` stub and
// sends what the page queued before it loaded, in order.
import { blocked, d, startTracker, whenShown, type Send } from './tracker';

type Funnel = Send & { q?: IArguments[]; on?: 1 };

const w = window as unknown as { funnel?: Funnel };
const script = d.currentScript as HTMLScriptElement;
const data = script.dataset;

// `on` marks a running snippet: a second copy of the tag on the page must not double count.
if (!w.funnel?.on && !blocked(data.allowLocal != null)) {
  whenShown(() => {
    const queued = w.funnel?.q || [];
    const send = startTracker(data, data.api || new URL('/api/event', script.src));
    (w.funnel = send as Funnel).on = 1;
    if ('heatmaps' in data) import(new URL('f-heatmaps.js', script.src) as unknown as string);
    for (const args of queued) send(...(args as unknown as [string]));
  });
}
