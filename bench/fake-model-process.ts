// The scripted OpenAI-compatible server (tests/support/fake-openai.ts) in its own process, for the
// AI streaming benchmark. It notes when each newline of the streamed content leaves the process:
// the moment a line of code leaves "the model".
import { ServerResponse } from 'node:http';
import { startFakeOpenAI, type FakeReply } from '../tests/support/fake-openai';
import { monoMs } from './stats';
import { serve } from './proc';

let newlineTimes: number[] = [];
const write = ServerResponse.prototype.write;
ServerResponse.prototype.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
  const now = monoMs();
  const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString() : '';
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    try {
      const delta = JSON.parse(line.slice(6))?.choices?.[0]?.delta?.content;
      if (typeof delta === 'string') for (const ch of delta) if (ch === '\n') newlineTimes.push(now);
    } catch {
      // not a content chunk
    }
  }
  return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
} as typeof ServerResponse.prototype.write;

const fake = await startFakeOpenAI({ model: 'bench-model', keepRequests: false });
serve(
  {
    script: (replies: FakeReply[]) => {
      fake.reset();
      newlineTimes = [];
      fake.script(replies);
      return true;
    },
    newlines: () => newlineTimes,
    close: async () => {
      await fake.close();
      return true;
    },
  },
  { url: fake.url },
);
