// Picks the storage: PostgreSQL when DATABASE_URL is set (several instances share it), else SQLite
// in DATA_DIR (the default; `npm start` needs nothing else).
import { openPostgresStorage, describeDatabaseUrl, type PostgresStorageOptions } from './postgres';
import { openSqliteStorage } from './sqlite';
import type { Storage } from './types';

export async function openStorage(opts: {
  dataDir: string;
  databaseUrl?: string;
  log?: PostgresStorageOptions['log'];
  connectRetryMs?: number;
}): Promise<Storage> {
  if (!opts.databaseUrl) return openSqliteStorage(opts.dataDir);
  const storage = await openPostgresStorage(opts.databaseUrl, { log: opts.log, connectRetryMs: opts.connectRetryMs });
  opts.log?.('info', `storage: PostgreSQL at ${describeDatabaseUrl(opts.databaseUrl)}`);
  return storage;
}
