// Starts and supervises a local Jupyter Kernel Gateway from kernel-gateway/.venv, bound to
// loopback with a random token. Restarts it with backoff if it exits unexpectedly.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KernelError } from './errors.js';
import { probeGateway } from './gateway-connection.js';

export const DEFAULT_PYTHON_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../kernel-gateway');
// A bound on a start that hangs, not an expected duration: a healthy gateway answers in a few seconds,
// but a busy 2-core machine was seen to take over 30 s (tests/integration/sandbox.test.ts under load).
export const GATEWAY_START_TIMEOUT_MS = 120_000;
const RESTART_BACKOFF_MS = [500, 1_000, 2_000, 5_000, 10_000, 30_000];
/** A gateway that stayed up this long resets the backoff. */
const STABLE_AFTER_MS = 60_000;
const LOG_TAIL_LINES = 40;
const STOP_GRACE_MS = 5_000;

export function venvBinDir(pythonDir: string): string {
  return path.join(pythonDir, '.venv', process.platform === 'win32' ? 'Scripts' : 'bin');
}

export function venvPython(pythonDir: string): string {
  return path.join(venvBinDir(pythonDir), process.platform === 'win32' ? 'python.exe' : 'python');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface EmbeddedGatewayOptions {
  pythonDir: string;
  /** cwd of the gateway process (its root_dir). */
  cwd: string;
  log: (msg: string) => void;
  /** Called when the gateway exited unexpectedly (all its kernels are gone). */
  onCrash?: (detail: string) => void;
  /** more KG_* settings for gateway_config.py (the kernel launcher's limits and sandbox) */
  extraEnv?: Record<string, string>;
}

export class EmbeddedGateway {
  readonly token = randomBytes(24).toString('hex');
  private port = 0;
  private child: ChildProcess | null = null;
  private tail: string[] = [];
  private isStopping = false;
  private restartAttempt = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private startedAt = 0;

  private constructor(private readonly opts: EmbeddedGatewayOptions) {}

  static async start(opts: EmbeddedGatewayOptions): Promise<EmbeddedGateway> {
    const gw = new EmbeddedGateway(opts);
    const python = venvPython(opts.pythonDir);
    if (!existsSync(python)) {
      throw new KernelError(
        'GATEWAY_START_FAILED',
        `no Python environment at ${path.join(opts.pythonDir, '.venv')}; run \`npm run setup:python\` (or set KERNEL_GATEWAY_URL to use an external gateway)`,
      );
    }
    mkdirSync(opts.cwd, { recursive: true });
    gw.port = await freePort();
    await gw.spawnAndWait();
    return gw;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawnAndWait(): Promise<void> {
    const { pythonDir, cwd, log } = this.opts;
    const bin = venvBinDir(pythonDir);
    // The gateway gets a minimal environment: nothing of the server's (API keys, DB URLs) leaks
    // even into the gateway, let alone the kernels (which also get an explicit env per start).
    const env: Record<string, string> = {
      PATH: [bin, '/usr/local/bin', '/usr/bin', '/bin'].join(path.delimiter),
      HOME: process.env.HOME ?? cwd,
      LANG: process.env.LANG ?? 'C.UTF-8',
      PYTHONUNBUFFERED: '1',
      KG_IP: '127.0.0.1',
      KG_PORT: String(this.port),
      KG_AUTH_TOKEN: this.token,
      // the gateway stops itself when this process is gone, even after a kill -9 of the server
      KG_PARENT_PID: String(process.pid),
      ...(process.env.SYSTEMROOT ? { SYSTEMROOT: process.env.SYSTEMROOT } : {}),
      // KG_TCP_NODELAY=0 turns the latency fix of gateway_config.py off (to measure it).
      ...(process.env.KG_TCP_NODELAY ? { KG_TCP_NODELAY: process.env.KG_TCP_NODELAY } : {}),
      ...this.opts.extraEnv,
    };
    const args = ['-m', 'jupyter', 'kernelgateway', `--config=${path.join(pythonDir, 'gateway_config.py')}`];
    log(`starting embedded Kernel Gateway on 127.0.0.1:${this.port}`);
    const child = spawn(venvPython(pythonDir), args, { cwd, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.tail = [];
    const onData = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        this.tail.push(line);
        if (this.tail.length > LOG_TAIL_LINES) this.tail.shift();
        // Request logs are noise; warnings and errors are worth a server log line. The ping
        // warning is a unit mismatch between jupyter_server (ms) and tornado 6.5 (s), harmless.
        if (/websocket_ping_timeout/.test(line)) continue;
        if (/^\[(W|E|C) /.test(line) || /Traceback|Error/.test(line)) log(`gateway: ${line}`);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);

    return new Promise<void>((resolve, reject) => {
      let isReady = false;
      const deadline = Date.now() + GATEWAY_START_TIMEOUT_MS;
      child.once('error', (err) => {
        if (!isReady) reject(new KernelError('GATEWAY_START_FAILED', `could not spawn the Kernel Gateway: ${err.message}`, { cause: err }));
      });
      child.once('exit', (code, sig) => {
        if (this.child === child) this.child = null;
        if (!isReady) {
          reject(
            new KernelError(
              'GATEWAY_START_FAILED',
              `the Kernel Gateway exited during start (code ${code}, signal ${sig}):\n${this.tail.join('\n')}`,
            ),
          );
          return;
        }
        if (this.isStopping) return;
        const detail = `embedded Kernel Gateway exited unexpectedly (code ${code}, signal ${sig})`;
        log(detail);
        this.opts.onCrash?.(detail);
        this.scheduleRestart();
      });
      const poll = async () => {
        if (this.child !== child || child.exitCode !== null) return;
        try {
          await probeGateway({ url: this.url, token: this.token }, 1_000);
          isReady = true;
          this.startedAt = Date.now();
          log(`embedded Kernel Gateway ready at ${this.url} (pid ${child.pid})`);
          resolve();
        } catch {
          if (Date.now() > deadline) {
            child.kill('SIGKILL');
            reject(new KernelError('GATEWAY_START_FAILED', `the Kernel Gateway did not answer within ${GATEWAY_START_TIMEOUT_MS} ms:\n${this.tail.join('\n')}`));
            return;
          }
          setTimeout(poll, 100);
        }
      };
      setTimeout(poll, 200);
    });
  }

  private scheduleRestart(): void {
    if (Date.now() - this.startedAt > STABLE_AFTER_MS) this.restartAttempt = 0;
    const delay = RESTART_BACKOFF_MS[Math.min(this.restartAttempt, RESTART_BACKOFF_MS.length - 1)]!;
    this.restartAttempt++;
    this.opts.log(`restarting embedded Kernel Gateway in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.isStopping) return;
      this.spawnAndWait().catch((err: unknown) => {
        this.opts.log(`embedded Kernel Gateway restart failed: ${err instanceof Error ? err.message : String(err)}`);
        if (!this.isStopping && !this.child) this.scheduleRestart();
      });
    }, delay);
    this.restartTimer.unref();
  }

  /** Stops the gateway (SIGTERM, then SIGKILL); the gateway shuts its kernels down on SIGTERM. */
  async stop(): Promise<void> {
    this.isStopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
    this.child = null;
  }
}
