// The funnel engine: definitions, matching and reports. Pure TypeScript over plain records.
export * from './definition.js';
export * from './journey.js';
export * from './report.js';
