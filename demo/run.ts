// `npm run demo`: the app with the offline demo model (demo/offline-model.ts) instead of a real
// endpoint. Clearly labelled in the UI by its model name. Everything else is the real app.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startFakeOpenAI } from '../tests/support/fake-openai';
import { DEMO_MODEL_NAME, demoReply } from './offline-model';

const root = path.resolve(import.meta.dirname, '..');
const model = await startFakeOpenAI({ model: DEMO_MODEL_NAME, keepRequests: false });
model.respond(demoReply);
console.log(`offline demo model at ${model.url} (scripted replies, not a language model)`);

const child = spawn(process.execPath, [path.join(root, 'scripts', 'start.mjs')], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, OPENAI_BASE_URL: model.url, OPENAI_API_KEY: 'offline-demo', OPENAI_MODEL: DEMO_MODEL_NAME },
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
child.on('exit', async (code) => {
  await model.close();
  process.exit(code ?? 0);
});
