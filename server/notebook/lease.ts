// Run ownership across several instances (REDIS_URL; docs/decisions/0020): the runs, generations
// and kernel connection of a notebook belong to one instance at a time, the holder of the
// notebook's lease in Redis. A lease is claimed with a fencing token (a counter per notebook that
// only grows), renewed every LEASE_MS/3 by a compare-and-pexpire and released by a compare-and-del:
// an instance whose renewal finds another value (it was paused or cut off past LEASE_MS and someone
// took over) knows at once it lost the notebook and stops using its kernel connection. Without
// REDIS_URL there is no lease: the one instance owns everything.
import type { Redis } from 'ioredis';

export const LEASE_PREFIX = 'ynotebook:lease:';
export const FENCE_PREFIX = 'ynotebook:fence:';
export const KERNEL_PREFIX = 'ynotebook:kernel:';
/** How long a kernel id record outlives its last write: the gateway culls idle kernels long before. */
export const KERNEL_RECORD_TTL_S = 7 * 24 * 3600;

export interface LeaseHolder {
  /** the holder's instance id (RedisRelay.instanceId) */
  instance: string;
  /** how other instances reach it (INSTANCE_URL) */
  url: string;
  /** the fencing token of this claim: greater than every earlier claim's */
  fence: number;
}

/** Claims the lease when free: one round trip, so two instances never both get it. */
const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
local fence = redis.call('INCR', KEYS[2])
local val = '{"instance":' .. cjson.encode(ARGV[1]) .. ',"url":' .. cjson.encode(ARGV[2]) .. ',"fence":' .. fence .. '}'
redis.call('SET', KEYS[1], val, 'PX', ARGV[3])
return val`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
/** Writes the kernel id only while the writer's lease (same value, same fence) is current. */
const SET_KERNEL = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) end
return 1`;

function parseHolder(raw: string | null): LeaseHolder | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<LeaseHolder>;
    if (typeof v.instance === 'string' && typeof v.url === 'string' && typeof v.fence === 'number') return { instance: v.instance, url: v.url, fence: v.fence };
  } catch {
    // not ours: treated as held by an unknown instance below
  }
  return { instance: '?', url: '', fence: 0 };
}

type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

interface Held {
  /** the exact value stored: renewals and releases compare it */
  value: string;
  fence: number;
  renewedAt: number;
}

export interface LeaseOptions {
  instanceId: string;
  /** INSTANCE_URL: how the other instances reach this one (known once the server listens) */
  url: () => string;
  leaseMs: number;
  log: Log;
}

export class NotebookLeases {
  private held = new Map<string, Held>();
  private lostListeners = new Set<(notebookId: string) => void>();
  private timer: NodeJS.Timeout;
  private isClosed = false;

  constructor(
    private redis: Redis,
    readonly opts: LeaseOptions,
  ) {
    this.timer = setInterval(() => void this.renewAll(), Math.max(50, Math.floor(opts.leaseMs / 3)));
    this.timer.unref();
  }

  get instanceId(): string {
    return this.opts.instanceId;
  }

  /** True while this instance holds the notebook's lease (as of its last renewal). */
  isHeld(notebookId: string): boolean {
    return this.held.has(notebookId);
  }

  /** The fencing token of this instance's lease on the notebook, or null. */
  fence(notebookId: string): number | null {
    return this.held.get(notebookId)?.fence ?? null;
  }

  heldIds(): string[] {
    return [...this.held.keys()];
  }

  /** Called once each time a lease this instance held is found taken or expired. */
  onLost(listener: (notebookId: string) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Who holds the notebook's lease now (null: no one). */
  async holder(notebookId: string): Promise<LeaseHolder | null> {
    return parseHolder(await this.redis.get(LEASE_PREFIX + notebookId));
  }

  /**
   * Takes the lease when no one holds it. Null when this instance holds it (now or already);
   * otherwise the holder. Throws when Redis cannot be reached.
   */
  async claim(notebookId: string): Promise<LeaseHolder | null> {
    const r = await this.tryClaim(notebookId);
    return r === 'new' || r === 'held' ? null : r;
  }

  /** True only when this very call took the lease (a takeover must not redo what a live claim did). */
  async claimNew(notebookId: string): Promise<boolean> {
    return (await this.tryClaim(notebookId)) === 'new';
  }

  private async tryClaim(notebookId: string): Promise<'new' | 'held' | LeaseHolder> {
    if (this.isClosed) throw new Error('the leases are closed');
    if (this.held.has(notebookId)) return 'held';
    const raw = (await this.redis.eval(CLAIM, 2, LEASE_PREFIX + notebookId, FENCE_PREFIX + notebookId, this.opts.instanceId, this.opts.url(), String(this.opts.leaseMs))) as string;
    const holder = parseHolder(raw)!;
    if (holder.instance !== this.opts.instanceId) return holder;
    // two claims of this process at once: the first answer records it, the second finds it held
    if (this.held.has(notebookId)) return 'held';
    this.held.set(notebookId, { value: raw, fence: holder.fence, renewedAt: Date.now() });
    return 'new';
  }

  /** Gives the lease up (the notebook is deleted, or this instance stops). */
  async release(notebookId: string): Promise<void> {
    const h = this.held.get(notebookId);
    if (!h) return;
    this.held.delete(notebookId);
    await this.redis.eval(RELEASE, 1, LEASE_PREFIX + notebookId, h.value).catch((err: Error) => this.opts.log('warn', `lease: releasing ${notebookId}: ${err.message}`));
  }

  /** The notebook is deleted: its lease (if held here) and its kernel record go. */
  async forget(notebookId: string): Promise<void> {
    await this.release(notebookId);
    await this.redis.del(KERNEL_PREFIX + notebookId);
  }

  /** The notebook's kernel id as its last owner recorded it. */
  async kernelId(notebookId: string): Promise<string | null> {
    return (await this.redis.get(KERNEL_PREFIX + notebookId)) || null;
  }

  /** Records (or with null clears) the notebook's kernel id; only while this instance holds the lease. */
  async setKernelId(notebookId: string, kernelId: string | null): Promise<boolean> {
    const h = this.held.get(notebookId);
    if (!h) return false;
    const ok = await this.redis.eval(SET_KERNEL, 2, LEASE_PREFIX + notebookId, KERNEL_PREFIX + notebookId, h.value, kernelId ?? '', String(KERNEL_RECORD_TTL_S));
    return ok === 1;
  }

  private lose(notebookId: string, why: string): void {
    if (!this.held.delete(notebookId)) return;
    this.opts.log('warn', `lease: lost notebook ${notebookId} (${why}); its runs stop here`);
    for (const l of [...this.lostListeners]) {
      try {
        l(notebookId);
      } catch (err) {
        this.opts.log('error', `lease: a lost-lease listener threw: ${(err as Error).message}`);
      }
    }
  }

  /** Renews every held lease (one pipeline). Exposed for tests. */
  async renewAll(): Promise<void> {
    if (this.isClosed || this.held.size === 0) return;
    const entries = [...this.held.entries()];
    const pipe = this.redis.pipeline();
    for (const [id, h] of entries) pipe.eval(RENEW, 1, LEASE_PREFIX + id, h.value, String(this.opts.leaseMs));
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipe.exec();
    } catch (err) {
      results = entries.map(() => [err as Error, null]);
    }
    const now = Date.now();
    entries.forEach(([id, h], i) => {
      if (this.held.get(id) !== h) return; // released meanwhile
      const [err, res] = results?.[i] ?? [new Error('no answer'), null];
      if (!err && res === 1) {
        h.renewedAt = now;
      } else if (!err) {
        this.lose(id, 'another instance holds it, or it expired');
      } else if (now - h.renewedAt >= this.opts.leaseMs) {
        // Redis unreachable for a whole lease: another instance may hold it by now
        this.lose(id, `not renewed for ${this.opts.leaseMs} ms: ${err.message}`);
      }
    });
  }

  /** Stops renewing and releases every lease (another instance may take them at once). */
  async close(): Promise<void> {
    if (this.isClosed) return;
    clearInterval(this.timer);
    await Promise.all(this.heldIds().map((id) => this.release(id)));
    this.isClosed = true;
  }
}

/** A kernel request reached an instance that does not own the notebook (and cannot take it). */
export class OwnershipError extends Error {
  constructor(
    readonly code: 'NOT_OWNER' | 'LEASE_UNAVAILABLE',
    message: string,
    readonly holder?: LeaseHolder,
  ) {
    super(message);
    this.name = 'OwnershipError';
  }
}
