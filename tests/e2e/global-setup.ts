// Builds the app once (when its sources changed) and starts the real server in production mode on
// a free port with a temporary DATA_DIR; every browser test file talks to this one server.
// It gets no OPENAI_* settings, whatever the runner's environment holds: "no model configured".
import type { TestProject } from 'vitest/node';
// a plain .mjs script shared with `npm test`
import { buildIfStale } from '../../scripts/build-if-stale.mjs';
import { startAppServer, type AppServer } from './server-process';

declare module 'vitest' {
  export interface ProvidedContext {
    baseURL: string;
  }
}

export { SERVER_START_TIMEOUT_MS } from './server-process';

let server: AppServer | null = null;

export async function setup(project: TestProject) {
  // vitest sets NODE_ENV=test, which would make Vite bundle React's development build
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    buildIfStale();
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  server = await startAppServer();
  project.provide('baseURL', server.url);
}

export async function teardown() {
  const s = server;
  server = null;
  await s?.close();
}
