// The relay between server instances that hold the same notebook (REDIS_URL): every update an
// instance stored, and every awareness change of its own clients, is published on the notebook's
// channel; the other instances apply it without storing it again. Redis pub/sub is at-most-once,
// so an instance whose subscription dropped re-reads the notebook from storage when it is back
// (`onResubscribed`): storage, shared by all instances, stays the source of truth.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export type RelayKind = 'update' | 'awareness';

export interface RelayMessage {
  kind: RelayKind;
  /** the instance that published it */
  from: string;
  data: Uint8Array;
}

export interface Relay {
  /** this instance's id (random per process) */
  readonly instanceId: string;
  /** Receives the notebook's messages from other instances (never this one's) until unsubscribed. */
  subscribe(notebookId: string, onMessage: (m: RelayMessage) => void): Promise<() => Promise<void>>;
  /** Fire and forget: a failure is logged, and the others catch up from storage. */
  publish(notebookId: string, kind: RelayKind, data: Uint8Array): void;
  /** Called after the connection to the relay came back: messages may have been missed meanwhile. */
  onResubscribed(listener: () => void): void;
  close(): Promise<void>;
}

type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

const KIND_BYTE: Record<RelayKind, number> = { update: 1, awareness: 2 };
const BYTE_KIND = new Map<number, RelayKind>(Object.entries(KIND_BYTE).map(([k, v]) => [v, k as RelayKind]));
const CHANNEL_PREFIX = 'ynotebook:nb:';

/** [kind][instance id length][instance id][data] */
export function encodeRelayMessage(kind: RelayKind, from: string, data: Uint8Array): Buffer {
  const id = Buffer.from(from, 'utf8');
  if (id.length > 255) throw new Error('instance id too long');
  return Buffer.concat([Buffer.from([KIND_BYTE[kind], id.length]), id, data]);
}

export function decodeRelayMessage(buf: Buffer): RelayMessage | null {
  if (buf.length < 2) return null;
  const kind = BYTE_KIND.get(buf[0]);
  const idLen = buf[1];
  if (!kind || buf.length < 2 + idLen) return null;
  return { kind, from: buf.subarray(2, 2 + idLen).toString('utf8'), data: new Uint8Array(buf.subarray(2 + idLen)) };
}

export class RedisRelay implements Relay {
  readonly instanceId = randomUUID();
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly handlers = new Map<string, Set<(m: RelayMessage) => void>>();
  private readonly resubscribed = new Set<() => void>();
  private hasBeenReady = false;
  private lastPublishError = 0;

  private constructor(
    url: string,
    private readonly log: Log,
  ) {
    const common = { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true };
    this.pub = new Redis(url, { ...common, connectionName: `ynotebook-pub-${this.instanceId}` });
    this.sub = new Redis(url, { ...common, connectionName: `ynotebook-sub-${this.instanceId}` });
    for (const [name, c] of [['publisher', this.pub], ['subscriber', this.sub]] as const) {
      c.on('error', (err: Error) => this.log('warn', `relay ${name}: ${err.message}`));
    }
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.dispatch(channel.toString('utf8'), message));
    this.sub.on('ready', () => {
      // ioredis re-subscribes by itself after a reconnect; what was published meanwhile is lost
      if (this.hasBeenReady) {
        this.log('warn', 'relay: reconnected to Redis; re-reading open notebooks from storage');
        for (const l of this.resubscribed) l();
      }
      this.hasBeenReady = true;
    });
  }

  /** Connects both connections; an unreachable Redis is a clear error naming the host (never a password). */
  static async connect(url: string, log: Log): Promise<RedisRelay> {
    const relay = new RedisRelay(url, log);
    try {
      await Promise.all([relay.pub.connect(), relay.sub.connect()]);
    } catch (err) {
      relay.pub.disconnect();
      relay.sub.disconnect();
      const u = new URL(url);
      throw new Error(`cannot reach Redis at ${u.hostname}:${u.port || 6379} (REDIS_URL): ${(err as Error).message}`);
    }
    return relay;
  }

  async subscribe(notebookId: string, onMessage: (m: RelayMessage) => void): Promise<() => Promise<void>> {
    const channel = CHANNEL_PREFIX + notebookId;
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      await this.sub.subscribe(channel);
    }
    set.add(onMessage);
    return async () => {
      const current = this.handlers.get(channel);
      if (!current) return;
      current.delete(onMessage);
      if (current.size === 0) {
        this.handlers.delete(channel);
        await this.sub.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  publish(notebookId: string, kind: RelayKind, data: Uint8Array): void {
    this.pub.publish(CHANNEL_PREFIX + notebookId, encodeRelayMessage(kind, this.instanceId, data)).catch((err: Error) => {
      // once a second at most: a Redis outage must not flood the log
      if (Date.now() - this.lastPublishError > 1000) {
        this.lastPublishError = Date.now();
        this.log('warn', `relay: publish failed (other instances catch up from storage): ${err.message}`);
      }
    });
  }

  onResubscribed(listener: () => void): void {
    this.resubscribed.add(listener);
  }

  private dispatch(channel: string, raw: Buffer) {
    const set = this.handlers.get(channel);
    if (!set) return;
    const msg = decodeRelayMessage(raw);
    if (!msg) {
      this.log('warn', `relay: ignored a malformed message on ${channel}`);
      return;
    }
    if (msg.from === this.instanceId) return;
    for (const h of set) {
      try {
        h(msg);
      } catch (err) {
        this.log('error', `relay: applying a message of ${channel} failed: ${(err as Error).message}`);
      }
    }
  }

  /** the publisher connection, for the notebook leases (server/notebook/lease.ts) */
  get redis(): Redis {
    return this.pub;
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await Promise.allSettled([this.sub.quit(), this.pub.quit()]);
  }
}
