// `npm run bench`: every benchmark, each printing ratios measured side by side in this run.
import os from 'node:os';
import { ingestBenchmark } from './ingest.js';
import { reportBenchmark } from './report.js';
import { overloadBenchmark } from './overload.js';
import { clickhouseBenchmark, singleEventsBenchmark } from './clickhouse.js';
import { storesReportBenchmark } from './storesReport.js';
import { storesLeadsBenchmark } from './storesLeads.js';
import { scaleBenchmark } from './scale.js';
import { clickhouseScaleBenchmark } from './clickhouseScale.js';

console.log(`Funnelbeam benchmarks — ${new Date().toISOString()} — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
for (const line of await ingestBenchmark()) console.log(line);
console.log('');
for (const line of await overloadBenchmark()) console.log(line);
console.log('');
for (const line of await reportBenchmark()) console.log(line);
console.log('');
for (const line of await clickhouseBenchmark()) console.log(line);
console.log('');
for (const line of await singleEventsBenchmark()) console.log(line);
console.log('');
await storesReportBenchmark((line) => console.log(line));
console.log('');
await storesLeadsBenchmark((line) => console.log(line));
console.log('');
await scaleBenchmark((line) => console.log(line));
console.log('');
await clickhouseScaleBenchmark((line) => console.log(line));
