// `npm run bench`: every benchmark, printed as the Markdown tables kept in docs/BENCHMARKS.md.
// Options: --runs N (execution runs, default 200); --only execution|files; --quick (short versions).
import os from 'node:os';
import { benchExecution, executionTable } from './execution';
import { benchFiles, filesTable } from './files';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const isQuick = process.argv.includes('--quick');
const runs = Number(arg('--runs') ?? (isQuick ? 30 : 200));
const only = arg('--only');
const wants = (name: string) => !only || only === name;

console.log(`# run on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString()}\n`);
if (wants('execution')) {
  console.log(`## Execution round trip (${runs} runs each, interleaved)\n`);
  console.log(executionTable(await benchExecution(runs)));
}
if (wants('files')) {
  console.log(`\n## Files through the kernel vs a plain PUT/GET to disk\n`);
  console.log(filesTable(await benchFiles(isQuick ? { sizesMB: [1, 20], rounds: () => 3 } : {})));
}
process.exit(0);
