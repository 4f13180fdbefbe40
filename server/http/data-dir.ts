// DATA_DIR holds the database, the admin token and every notebook's files: only this server's
// user may enter it (docs/decisions/0023-kernel-resources.md). A kernel's folder below it is
// reached by that kernel through its own bind mount, never through DATA_DIR's path.
import fs from 'node:fs';

/** DATA_DIR's mode: owner only. */
export const DATA_DIR_MODE = 0o700;

/** Creates DATA_DIR owner-only, and tightens one an earlier version made 0755. */
export function prepareDataDir(dataDir: string, log: (msg: string) => void): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: DATA_DIR_MODE });
  const st = fs.statSync(dataDir);
  if ((st.mode & 0o777) === DATA_DIR_MODE) return;
  try {
    fs.chmodSync(dataDir, DATA_DIR_MODE);
    log(`DATA_DIR ${dataDir} was mode ${(st.mode & 0o777).toString(8)}; now ${DATA_DIR_MODE.toString(8)} (owner only)`);
  } catch (err) {
    // not ours (a mounted volume of another user): say so, and go on
    log(`DATA_DIR ${dataDir} is mode ${(st.mode & 0o777).toString(8)} and could not be made ${DATA_DIR_MODE.toString(8)}: ${(err as Error).message}`);
  }
}
