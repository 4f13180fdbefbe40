// Assembles the one Node process: storage, sync rooms, HTTP API, Remix, WebSocket, on one port.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { AppServices } from '../../common/app-context';
import { openStorage } from '../storage/open';
import { RedisRelay } from '../sync/relay';
import type { Storage } from '../storage/types';
import { RoomManager } from '../sync/rooms';
import { createSyncServer } from '../sync/ws-server';
import path from 'node:path';
import { NotebookService } from '../notebook/notebooks';
import { ExecutionService } from '../notebook/execution';
import { resetInterruptedWork } from '../notebook/recover';
import { NotebookLeases } from '../notebook/lease';
import { TakeoverWatch } from '../notebook/takeover';
import { forwardToOwner } from './forward';
import { KernelService } from '../kernel/kernel-service';
import { cellSource, findCell } from '../../common/notebook/model';
import { AiService } from '../ai/agent';
import { suggestionsFor } from '../ai/offline-demo';
import { modelConfigFromEnv, type ModelConfig, type StreamTurnOptions } from '../ai/provider';
import { createApi } from './api';
import { AccessService, resolveAdminToken, revocationKey, SESSION_SWEEP_MS } from '../access/access';
import { DEFAULT_RATE_LIMITS, RateLimiter, type RateLimits } from '../access/rate-limit';
import { CloseCode } from '../sync/close-codes';
import { createLinksApi } from './links-api';
import { apiGuard, authenticate, clientAddress, credentialsOf, hostGuard, pageGuard, pathGuard, RequestGuard, securityHeaders } from './security';
import { createSessionsApi } from './sessions-api';
import { createIpynbApi } from './ipynb-api';
import { createNotebooksApi } from './notebooks-api';
import { createFilesApi } from './files-api';
import { createPackagesApi } from './packages-api';
import { FilesService } from '../notebook/files';
import { MiB, type FileLimits } from '../kernel/kernel-files';
import { errorHandler } from './errors';
import { prepareDataDir } from './data-dir';
import { mountRemix } from './remix';
import type { Env } from './env';

export type LogLevel = 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, msg: string) => void;

export const consoleLogger: Logger = (level, msg) => {
  const line = `[${new Date().toISOString()}] ${level}: ${msg}`;
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
};

export interface ServerOptions {
  env: Env;
  /** serve the Remix UI (tests of the sync layer can leave it out) */
  withUi?: boolean;
  storage?: Storage;
  log?: Logger;
  unloadAfterMs?: number;
  /** how kernels are provided; default: KernelService from env (embedded gateway unless KERNEL_GATEWAY_URL) */
  createKernels?: () => Promise<KernelService>;
  /** start the gateway at boot instead of on the first run */
  warmKernels?: boolean;
  /** the language model; default from OPENAI_* in env; null runs the app without AI */
  model?: ModelConfig | null;
  aiTurnOptions?: Partial<StreamTurnOptions>;
  /** token budget of one generation (default MAX_TOKENS_PER_GENERATION) */
  aiMaxTokens?: number;
  /** limits of the files API (default from FILES_MAX_FILE_MB, FILES_QUOTA_MB and DEFAULT_FILE_LIMITS) */
  fileLimits?: Partial<FileLimits>;
  /** runs and generations per minute per token (default DEFAULT_RATE_LIMITS) */
  rateLimits?: Partial<RateLimits>;
}

export interface RunningServer {
  url: string;
  port: number;
  storage: Storage;
  rooms: RoomManager;
  notebooks: NotebookService;
  execution: ExecutionService;
  ai: AiService;
  files: FilesService;
  access: AccessService;
  /** the instance admin's token (ADMIN_TOKEN, or the one kept in DATA_DIR) */
  adminToken: string;
  /** true when this start made the admin token (print the sign-in URL) */
  isAdminTokenNew: boolean;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { env } = opts;
  const log = opts.log ?? consoleLogger;
  // owner only, before anything (the database, the admin token, the kernels' folders) is put in it
  prepareDataDir(env.dataDir, (m) => log('warn', m));
  // DATABASE_URL: PostgreSQL (migrated here; an unreachable one is retried for a while, then throws
  // StorageError 'IO' naming the host); else SQLite in DATA_DIR
  const storage = opts.storage ?? (await openStorage({ dataDir: env.dataDir, databaseUrl: env.DATABASE_URL, log }));
  let admin: Awaited<ReturnType<typeof resolveAdminToken>>;
  try {
    admin = await resolveAdminToken(storage, env.dataDir, env.ADMIN_TOKEN);
  } catch (err) {
    if (!opts.storage) await storage.close();
    throw err;
  }
  const access = new AccessService(storage, admin.token);
  const limiter = new RateLimiter({ ...DEFAULT_RATE_LIMITS, ...opts.rateLimits });
  const guard = new RequestGuard({ bindHost: env.HOST, publicUrl: env.PUBLIC_URL, allowedHosts: env.ALLOWED_HOSTS, allowedOrigins: env.ALLOWED_ORIGINS });
  // REDIS_URL: several instances serve the same notebooks; updates and presence are relayed
  let relay: RedisRelay | null = null;
  if (env.REDIS_URL) {
    try {
      relay = await RedisRelay.connect(env.REDIS_URL, log);
    } catch (err) {
      if (!opts.storage) await storage.close();
      throw err;
    }
    log('info', `relay: instance ${relay.instanceId} on Redis`);
  }
  // Several instances: a notebook's runs and kernel belong to the holder of its lease (0020). Its
  // URL is known once the server listens.
  let instanceUrl = env.INSTANCE_URL ?? '';
  const leaseMs = Math.round(env.LEASE_SECONDS * 1000);
  const leases = relay ? new NotebookLeases(relay.redis, { instanceId: relay.instanceId, url: () => instanceUrl, leaseMs, log }) : null;
  let takeover: TakeoverWatch | null = null;
  // A room loaded here has nothing running here. With one instance, whatever the document still
  // shows as running was cut short by a restart; with several, another instance may be running it:
  // the takeover watch marks it only once no instance holds the notebook's lease.
  const rooms = new RoomManager(storage, log, {
    unloadAfterMs: opts.unloadAfterMs,
    onLoad: relay ? (_doc, id) => void takeover?.check(id) : (doc) => resetInterruptedWork(doc),
    relay: relay ?? undefined,
  });
  const notebooks = new NotebookService(storage);
  const createKernels =
    opts.createKernels ??
    (() =>
      KernelService.create({
        gatewayUrl: env.KERNEL_GATEWAY_URL,
        gatewayToken: env.KERNEL_GATEWAY_TOKEN,
        workRoot: path.join(env.dataDir, 'kernels'),
        idleCullMs: env.KERNEL_IDLE_MINUTES * 60_000,
        remoteKernel: { kernelName: env.KERNEL_SPEC, username: env.KERNEL_USERNAME, workDirRoot: env.KERNEL_WORKDIR_ROOT, startEnv: env.KERNEL_START_ENV },
        sparePool: env.KERNEL_SPARE_POOL,
        sandbox: { mode: env.KERNEL_SANDBOX, memoryMb: env.KERNEL_MEMORY_MB, pidsMax: env.KERNEL_PIDS_MAX, tmpMb: env.KERNEL_TMP_MB, network: env.KERNEL_NETWORK, bwrapPath: env.KERNEL_SANDBOX_BWRAP, slirp4netnsPath: env.KERNEL_SLIRP4NETNS, diskMb: Math.ceil(env.FILES_QUOTA_MB), kernelUser: env.KERNEL_USER },
        log: (m) => log('info', `kernel: ${m}`),
        // several instances on one gateway: a new owner reconnects to the kernel the last one recorded
        adoption: leases
          ? (id) => ({
              previousKernelId: () => leases.kernelId(id),
              kernelChanged: (kernelId) => void leases.setKernelId(id, kernelId).catch((err: Error) => log('warn', `recording the kernel of ${id}: ${err.message}`)),
            })
          : undefined,
      }));
  const execution = new ExecutionService(rooms, createKernels, log, leases);
  if (leases) {
    takeover = new TakeoverWatch({ rooms, leases, execution, log, intervalMs: Math.max(100, Math.floor(leaseMs / 2)) });
    takeover.start();
  }
  if (opts.warmKernels) execution.warmUp();
  const model = opts.model !== undefined ? opts.model : modelConfigFromEnv({ OPENAI_API_KEY: env.OPENAI_API_KEY, OPENAI_BASE_URL: env.OPENAI_BASE_URL, OPENAI_MODEL: env.OPENAI_MODEL });
  const ai = new AiService({ rooms, execution, model, log, turnOptions: opts.aiTurnOptions, maxTokens: opts.aiMaxTokens });
  const files = new FilesService(rooms, execution, {
    maxFileBytes: Math.floor(env.FILES_MAX_FILE_MB * MiB),
    quotaBytes: Math.floor(env.FILES_QUOTA_MB * MiB),
    ...opts.fileLimits,
  });
  const currentSource = async (notebookId: string, cellId: string) => {
    const room = await rooms.get(notebookId);
    const cell = room && findCell(room.doc, cellId);
    return cell ? cellSource(cell).toString() : null;
  };

  const services: AppServices = {
    listNotebooks: () => notebooks.list(),
    createNotebook: async ({ title }) => {
      const rec = await notebooks.create({ title });
      return { id: rec.id, token: rec.ownerToken };
    },
    getNotebook: (id) => notebooks.get(id),
    // the endpoint's host is for editors and up (it may name a machine inside the network); a
    // viewer learns only that AI is there, and which model
    modelInfo: (role) => ({ model: model?.model ?? null, endpoint: role && role !== 'viewer' ? (model?.endpointName ?? null) : null, suggestions: suggestionsFor(model) }),
    kernelSandbox: async () => {
      try {
        const state = (await execution.kernels).sandbox;
        if (!state) return null;
        const network = { kind: state.networkState.kind, label: state.networkState.label, ...(state.networkState.reason ? { reason: state.networkState.reason } : {}) };
        return { active: state.active, ...(state.reason ? { reason: state.reason } : {}), network };
      } catch {
        return null;
      }
    },
  };

  const isSecure = env.PUBLIC_URL?.startsWith('https:') ?? false;
  const app = express();
  app.disable('x-powered-by');
  app.use(hostGuard(guard));
  app.use(pathGuard());
  app.use(securityHeaders());
  // every API request passes the door first: Origin, credentials, the route's role, rate limits
  app.use('/api', apiGuard(guard, access, limiter, { isSecure }));
  // several instances: what needs the notebook's kernel goes to the instance that owns it (0020)
  if (leases) app.use('/api', forwardToOwner({ leases, leaseMs, log }));
  app.use('/api', createSessionsApi({ access, isSecure }));
  app.use('/api', createLinksApi({ notebooks, access, publicUrl: env.PUBLIC_URL }));
  // before the JSON API: its body parser must never read an upload
  app.use('/api', createFilesApi({ notebooks, files }));
  app.use('/api', createPackagesApi({ notebooks, files }));
  // before the JSON API too: the import reads its raw body with its own limit
  app.use('/api', createIpynbApi({ notebooks, rooms }));
  app.use('/api', createNotebooksApi({ notebooks, rooms }));
  const beforeDelete = async (id: string) => {
    await ai.stopNotebook(id);
    await execution.forget(id);
    await rooms.evict(id);
  };
  app.use('/api', createApi({ notebooks, execution, ai, cellSource: currentSource, beforeDelete }));
  app.use('/api', (_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such API route' } });
  });
  app.use('/api', errorHandler((m) => log('error', m)));
  app.use(pageGuard(guard, access, limiter, { isSecure }));
  const remix =
    opts.withUi === false
      ? null
      : await mountRemix(app, {
          mode: env.NODE_ENV === 'development' ? 'development' : 'production',
          services,
          viewer: (res) => ({ role: res.locals.role ?? null }),
        });
  app.use(errorHandler((m) => log('error', m)));

  const server = http.createServer(app);
  const sync = createSyncServer(rooms, log, {
    authorize: async (req, notebookId) => {
      // an address over its budget of wrong tokens was answered 429 at the upgrade (below)
      const auth = await authenticate(req, access, limiter, credentialsOf(req, notebookId, { query: true }));
      const principal = auth.ok ? auth.principal : null;
      if (!principal) return { ok: false, code: CloseCode.UNAUTHORIZED };
      const role = access.roleOn(principal, notebookId);
      if (role === null) return { ok: false, code: CloseCode.FORBIDDEN };
      // filed under its session (or link), so ending that closes it at once (4410)
      return { ok: true, isReadOnly: role === 'viewer', grantId: revocationKey(principal) };
    },
  });
  access.onRevoke((key) => sync.closeGrant(key));
  // expired sessions go, and their sockets with them
  const sweeper = setInterval(() => {
    access.sweepSessions().catch((err: Error) => log('warn', `ending expired sessions: ${err.message}`));
  }, SESSION_SWEEP_MS);
  sweeper.unref();
  server.on('upgrade', (req, socket, head) => {
    // DNS rebinding and cross-site WebSocket hijacking stop here, before any protocol
    if (!guard.isHostAllowed(req) || !guard.isOriginAllowed(req)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\ncross-site or unknown host\n');
      return;
    }
    // a token from an address that sent too many wrong ones is not looked at (guessing stays slow)
    if (credentialsOf(req, null, { query: true }).some((c) => c.kind === 'token')) {
      const room = limiter.peek(clientAddress(req), 'failedAuth');
      if (!room.ok) {
        socket.end(`HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nRetry-After: ${Math.ceil(room.retryAfterMs / 1000)}\r\nContent-Type: text/plain\r\n\r\ntoo many wrong tokens from this address\n`);
        return;
      }
    }
    if (!sync.handleUpgrade(req, socket, head)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.PORT, env.HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST;
  const url = `http://${host}:${port}`;
  if (!instanceUrl) {
    const reachable = ['0.0.0.0', '::', '[::]'].includes(env.HOST) ? '127.0.0.1' : host;
    instanceUrl = `http://${reachable}:${port}`;
  }
  if (leases) log('info', `runs: this instance is reached by the others at ${instanceUrl} (INSTANCE_URL); leases of ${env.LEASE_SECONDS} s`);

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    storage,
    rooms,
    notebooks,
    execution,
    ai,
    files,
    access,
    adminToken: admin.token,
    isAdminTokenNew: admin.isGenerated,
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        takeover?.stop();
        await ai.stopAll();
        await sync.close();
        await execution.close();
        // after the kernels were let go: the other instances may take the notebooks over at once
        await leases?.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await rooms.closeAll();
        await relay?.close();
        await remix?.close();
        await storage.close();
      })();
      return closing;
    },
  };
}
