// (6) AI streaming: a line of code leaving the scripted model server (tests/support/fake-openai.ts
// in its own process, a fixed rate of one 14-character chunk every `delayMs`) → shown in the cell
// at a second client (its own process). Each streamed line `vNNNN = 1NNNN` is timed from the moment
// the chunk holding its newline is written by the model server until the client's cell source
// holds that newline.
// Run: npm run bench -- --only ai
import { aiInfo, findCell } from '../common/notebook/model';
import { startApp } from './app-in-process';
import { startChild } from './proc';
import { ms, quietly, sleep, summarize, table, type Summary } from './stats';

export interface AiStreamResult {
  generations: number;
  linesPerGeneration: number;
  delayMs: number;
  latency: Summary;
  missing: number;
}

export async function benchAiStream(opts: { generations: number; lines: number; delayMs: number }, log: (s: string) => void = () => undefined): Promise<AiStreamResult> {
  return quietly(async () => {
    const fake = startChild('fake-model-process.ts');
    const watcher = startChild('sync-clients-process.ts');
    const { url: fakeUrl } = (await fake.ready) as { url: string };
    await watcher.ready;
    const app = await startApp({ model: { apiKey: 'bench-key', baseURL: fakeUrl, model: 'bench-model', endpointName: 'bench' } });
    const lat: number[] = [];
    let missing = 0;
    try {
      for (let g = 0; g < opts.generations; g++) {
        const nb = await app.notebook(`ai ${g}`, ['']);
        const cellId = nb.cellIds[0];
        const code = Array.from({ length: opts.lines }, (_, j) => `v${String(j).padStart(4, '0')} = 1${String(j).padStart(4, '0')}`).join('\n');
        await fake.call('script', [{ content: '```python\n' + code + '\n```', chunkSize: 14, delayMs: opts.delayMs }, { content: 'Done.' }]);
        await watcher.call('watchLines', { wsUrl: app.wsUrl, room: nb.id, cellId });
        const res = await app.post(`/notebooks/${nb.id}/cells/${cellId}/generate`, { prompt: 'define variables', wait: false });
        if (res.status !== 202) throw new Error(`generate: ${res.status} ${JSON.stringify(res.body)}`);
        const deadline = Date.now() + 60_000 + opts.lines * opts.delayMs * 2;
        for (;;) {
          const status = aiInfo(findCell(nb.doc, cellId)!)?.status;
          if (status === 'done' || status === 'failed' || status === 'stopped') break;
          if (Date.now() > deadline) throw new Error(`generation still ${status}`);
          await sleep(50);
        }
        await sleep(300);
        const left = await fake.call<number[]>('newlines');
        const shown = await watcher.call<(number | null)[]>('lines');
        // newline 0 of the model's text ends the opening fence; newline j+1 ends code line j
        for (let j = 0; j < opts.lines - 1; j++) {
          const t = left[j + 1];
          const s = shown[j];
          if (t == null || s == null) missing++;
          else lat.push(s - t);
        }
        await watcher.call('closeAll');
        log(`  ai generation ${g + 1}: p50 ${ms(summarize(lat).median)} p99 ${ms(summarize(lat).p99)}`);
      }
    } finally {
      await app.close();
      await Promise.all([fake.stop(), watcher.stop()]);
    }
    return { generations: opts.generations, linesPerGeneration: opts.lines, delayMs: opts.delayMs, latency: summarize(lat), missing };
  });
}

export function aiStreamTable(r: AiStreamResult): string {
  const s = r.latency;
  return table(
    ['model server → second client', 'lines', 'p50', 'p95', 'p99', 'max'],
    [[`${r.generations} generations × ${r.linesPerGeneration} lines, one 14-char chunk per ${r.delayMs} ms${r.missing ? ` (${r.missing} not matched)` : ''}`, s.n, ms(s.median), ms(s.p95), ms(s.p99), ms(s.max)]],
  );
}

if (process.argv[1]?.endsWith('ai-stream.ts')) {
  console.log(aiStreamTable(await benchAiStream({ generations: Number(process.argv[2] ?? 3), lines: Number(process.argv[3] ?? 200), delayMs: 20 }, console.log)));
  process.exit(0);
}
