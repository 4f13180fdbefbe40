// `npm run bench`: every benchmark, printed as the Markdown tables kept in docs/BENCHMARKS.md.
// Options: --runs N (default 200).
import os from 'node:os';
import { benchExecution, executionTable } from './execution';

const i = process.argv.indexOf('--runs');
const runs = i > 0 ? Number(process.argv[i + 1]) : 200;

console.log(`# run on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString()}\n`);
console.log(`## Execution round trip (${runs} runs each, interleaved)\n`);
console.log(executionTable(await benchExecution(runs)));
process.exit(0);
