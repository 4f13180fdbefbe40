// `npm start`: prepares what the app needs (the kernel gateway's Python environment, the web
// build) and then runs the server in the foreground.
import { spawn, execFileSync } from 'node:child_process';
import path from 'node:path';
import { ensureBubblewrap, ensureSlirp4netns } from './apt-install.mjs';
import { buildIfStale } from './build-if-stale.mjs';

const root = path.resolve(import.meta.dirname, '..');

if (!process.env.KERNEL_GATEWAY_URL) {
  execFileSync(process.execPath, [path.join(root, 'scripts', 'setup-python.mjs')], { stdio: 'inherit' });
  // the embedded gateway's kernels run under bubblewrap; not fatal: the server says loudly when
  // they cannot (and refuses to start kernels with KERNEL_SANDBOX=required)
  if (process.env.KERNEL_SANDBOX !== 'off') ensureBubblewrap((m) => console.log(`[start] ${m}`));
  // the kernels' internet (KERNEL_NETWORK=internet, the default); without it they have no network
  const network = process.env.KERNEL_NETWORK || 'internet';
  if (process.env.KERNEL_SANDBOX !== 'off' && network === 'internet') ensureSlirp4netns((m) => console.log(`[start] ${m}`));
}
buildIfStale();

const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'server', 'http', 'main.ts')], {
  cwd: root,
  stdio: 'inherit',
  env: { NODE_ENV: 'production', ...process.env },
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
