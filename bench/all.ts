// `npm run bench`: every benchmark against its baseline, in one run, printed as Markdown tables and
// written into docs/BENCHMARKS.md (the "Latest run" section; the explanations stay).
// Options: --quick (a short version of each, about two minutes); --only sync|flood|execution|ai|restart|files|open|cluster
// (comma-separated); --no-write (print only). Benchmarks never run in `npm test`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { aiStreamTable, benchAiStream } from './ai-stream';
import { benchCluster, CLUSTER_FULL, CLUSTER_QUICK, clusterTable } from './cluster';
import { benchExecutionRuns, executionRunsTable } from './execution-runs';
import { benchFiles, filesTable } from './files';
import { benchFlood, floodTable } from './flood';
import { benchOpenNotebook, OPEN_FULL, OPEN_QUICK, openNotebookTable } from './open-notebook';
import { benchRestartMemory, restartTable } from './restart-memory';
import { benchSync, SYNC_FULL, SYNC_QUICK, syncTable } from './sync';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const isQuick = process.argv.includes('--quick');
const only = arg('--only')?.split(',');
const wants = (name: string) => !only || only.includes(name);
const log = (s: string) => console.error(s);

const started = Date.now();
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model?.trim() ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`;
const command = `npm run bench${process.argv.slice(2).length ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
const sections: { key: string; title: string; body: string }[] = [];
const add = (key: string, title: string, body: string) => {
  sections.push({ key, title, body });
  console.log(`\n## ${title}\n\n${body}`);
};

console.log(`# ${command}: ${machine}, ${new Date().toISOString()}`);
const run = async (key: string, fn: () => Promise<void>) => {
  if (!wants(key)) return;
  const t0 = Date.now();
  try {
    await fn();
  } catch (err) {
    add(key, `${key}: failed`, `\`${String((err as Error).message).split('\n')[0]}\``);
  }
  log(`(${key}: ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
};

await run('sync', async () => {
  const o = isQuick ? SYNC_QUICK : SYNC_FULL;
  add('sync', 'Sync: keystroke → every other client, and first sync (app vs @y/websocket-server 0.1.1)', syncTable(await benchSync(o, log), o));
});
await run('flood', async () => {
  add('flood', 'Output flood (app vs bare kernel)', floodTable(await benchFlood({ runs: isQuick ? 1 : 3 }, log)));
});
await run('execution', async () => {
  add('execution', 'Execution round trip and first run (app vs bare kernel)', executionRunsTable(await benchExecutionRuns({ runs: isQuick ? 30 : 200, firstRuns: isQuick ? 2 : 10 }, log)));
});
await run('ai', async () => {
  add('ai', 'AI streaming: model server → second client', aiStreamTable(await benchAiStream({ generations: isQuick ? 1 : 3, lines: isQuick ? 60 : 200, delayMs: 20 }, log)));
});
await run('restart', async () => {
  add('restart', 'Server restart and memory per open notebook (app vs @y/websocket-server 0.1.1)', restartTable(await benchRestartMemory({ restarts: isQuick ? 1 : 3, openCounts: isQuick ? [0, 10] : [0, 10, 50] }, log)));
});
await run('files', async () => {
  add('files', 'Files through the kernel vs a plain PUT/GET to disk', filesTable(await benchFiles(isQuick ? { sizesMB: [1, 20], rounds: () => 2 } : {})));
});
await run('open', async () => {
  add('open', 'Opening a 1000-cell notebook in Chromium (app vs JupyterLab 4)', openNotebookTable(await benchOpenNotebook(isQuick ? OPEN_QUICK : OPEN_FULL, log)));
});
await run('cluster', async () => {
  const o = isQuick ? CLUSTER_QUICK : CLUSTER_FULL;
  add('cluster', 'Cluster: edit latency across instances (relay) and memory per open notebook (two instances on PostgreSQL + Redis vs one on SQLite)', clusterTable(await benchCluster(o, log), o));
});
const seconds = ((Date.now() - started) / 1000).toFixed(0);
log(`(all: ${seconds} s)`);

if (!process.argv.includes('--no-write') && sections.length) {
  // each section's figures sit between <!-- bench:KEY --> and <!-- /bench:KEY --> under its
  // explanation; only those blocks are replaced (a missing one is appended as a new section)
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'BENCHMARKS.md');
  let text = fs.readFileSync(file, 'utf8');
  const stamp = `Run ${new Date().toISOString().slice(0, 10)}: \`${command}\` (${seconds} s in all) on ${machine}.`;
  for (const s of sections) {
    const block = `<!-- bench:${s.key} -->\n${stamp}\n\n${s.body}\n<!-- /bench:${s.key} -->`;
    const re = new RegExp(`<!-- bench:${s.key} -->[\\s\\S]*?<!-- /bench:${s.key} -->`);
    text = re.test(text) ? text.replace(re, () => block) : `${text.trimEnd()}\n\n## ${s.title}\n\n${block}\n`;
  }
  fs.writeFileSync(file, text);
  log(`wrote ${path.relative(process.cwd(), file)}`);
}
process.exit(0);
