// The product's server in its own process for the benchmarks (no UI, no kernels unless asked):
// DATA_DIR and ADMIN_TOKEN from the environment, PORT 0.
import { readEnv } from '../server/http/env';
import { startServer } from '../server/http/server';
import { TEST_ADMIN_TOKEN } from '../tests/support/auth';
import { memory, serve } from './proc';
import * as Y from 'yjs';

const t0 = performance.now();
const env = readEnv({ ...process.env, PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
const server = await startServer({ env, withUi: false, log: () => undefined });
serve(
  {
    memory: () => memory(),
    loaded: (id: string) => Boolean(server.rooms.loaded(id)),
    docBytes: (id: string) => {
      const r = server.rooms.loaded(id);
      return r ? Y.encodeStateAsUpdate(r.doc).byteLength : 0;
    },
    close: async () => {
      await server.close();
      setTimeout(() => process.exit(0), 10);
      return true;
    },
  },
  { url: server.url, bootMs: performance.now() - t0 },
);
