// Entry point: `npm start` (through scripts/start.mjs) and `npm run serve` run this file.
import { readEnv, EnvError } from './env';
import { consoleLogger, startServer } from './server';
import { MissingBuildError } from './remix';
import { StorageError } from '../storage/types';
import { adminSignInLine } from './admin-sign-in';

async function main() {
  let env;
  try {
    env = readEnv();
  } catch (err) {
    if (err instanceof EnvError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  let server;
  try {
    server = await startServer({ env, warmKernels: true });
  } catch (err) {
    if (err instanceof StorageError) {
      // PostgreSQL unreachable (after retrying), wrong password, no such database: say which, stop
      console.error(`Storage unavailable: ${err.message}`);
      process.exit(2);
    }
    if (err instanceof MissingBuildError) {
      console.error(err.message);
      process.exit(2);
    }
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`Port ${env.PORT} on ${env.HOST} is already in use: stop the other server or set PORT to another port.`);
      process.exit(2);
    }
    throw err;
  }
  consoleLogger('info', env.DATABASE_URL ? `notebooks in PostgreSQL, kernels' files in ${env.dataDir}` : `data in ${env.dataDir}`);
  // as Jupyter does: the address that signs the admin in, when the server made the token (it is
  // also in DATA_DIR/admin-token, or with DATABASE_URL in the database's settings table); one given
  // in ADMIN_TOKEN is never printed
  const local = ['127.0.0.1', 'localhost', '0.0.0.0', '::', '::1'].includes(env.HOST) ? `http://localhost:${server.port}` : server.url;
  console.log(adminSignInLine({ base: env.PUBLIC_URL ?? local, adminToken: server.adminToken, isFromEnv: Boolean(env.ADMIN_TOKEN) }));
  // tests and scripts wait for this exact line
  console.log(`listening on ${server.url}`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    consoleLogger('info', `${signal}: shutting down`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

process.on('unhandledRejection', (err) => {
  // a bug in one request or job must not take every notebook down
  consoleLogger('error', `unhandled rejection: ${(err as Error)?.stack ?? err}`);
});

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
