// A server without the UI, run as its own process so tests can kill -9 it.
import { readEnv } from '../../server/http/env';
import { startServer } from '../../server/http/server';
import { TEST_ADMIN_TOKEN } from './auth';

const env = readEnv({ ...process.env, NODE_ENV: 'test', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
const server = await startServer({ env, withUi: false });
console.log(`listening on ${server.url}`);
// SIGTERM: a graceful stop, as `npm start` does (tests of several instances hand notebooks over)
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
