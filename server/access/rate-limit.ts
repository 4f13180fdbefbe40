// Token buckets, refilled continuously: per credential for what costs the server (runs,
// generations, completion and help, new links), per client address for wrong credentials (so
// guessing a token or a session id is slow). A client over its budget gets 429 with Retry-After;
// nobody else is slowed down.

export interface RateLimits {
  /** runs (one request, however many cells) per minute per credential */
  runsPerMinute: number;
  /** AI generations per minute per credential */
  generationsPerMinute: number;
  /** completion and help requests (`complete`, `inspect`) per minute per credential; each reaches the kernel */
  completionsPerMinute: number;
  /** links made per minute per credential */
  linksPerMinute: number;
  /** requests whose credentials all open nothing, per minute per client address */
  failedAuthPerMinute: number;
}

export type LimitedKind = 'run' | 'generate' | 'complete' | 'link' | 'failedAuth';

export const DEFAULT_RATE_LIMITS: RateLimits = {
  runsPerMinute: 120,
  generationsPerMinute: 20,
  // Tab and `.` ask, never every keystroke; a few people typing on one link stay far below it
  completionsPerMinute: 300,
  linksPerMinute: 30,
  // a person mistyping, or a page with an ended session (its cookie is cleared on the first
  // refusal), never comes near it; a guesser gets one try every 2 s
  failedAuthPerMinute: 30,
};

const PER_MINUTE: Record<LimitedKind, keyof RateLimits> = {
  run: 'runsPerMinute',
  generate: 'generationsPerMinute',
  complete: 'completionsPerMinute',
  link: 'linksPerMinute',
  failedAuth: 'failedAuthPerMinute',
};

/** What a 429 says each kind of request is. */
export const LIMITED_NOUN: Record<LimitedKind, string> = {
  run: 'runs',
  generate: 'generations',
  complete: 'completion and help requests',
  link: 'new links',
  failedAuth: 'requests with a wrong token',
};

/** Buckets not touched for this long are forgotten. */
const IDLE_FORGET_MS = 10 * 60_000;
/** Past this many buckets, idle ones are forgotten (many client addresses cannot grow memory for ever). */
const MAX_BUCKETS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

export type Taken = { ok: true } | { ok: false; retryAfterMs: number; perMinute: number };

export class RateLimiter {
  private buckets = new Map<string, Bucket>();

  constructor(private limits: RateLimits = DEFAULT_RATE_LIMITS) {}

  /** Takes one from the bucket; answers how long to wait when it is empty. */
  take(key: string, kind: LimitedKind, now = Date.now()): Taken {
    const { b, perMinute } = this.bucket(key, kind, now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: this.waitMs(b, perMinute), perMinute };
  }

  /** Whether the bucket is empty, without taking from it. */
  peek(key: string, kind: LimitedKind, now = Date.now()): Taken {
    const { b, perMinute } = this.bucket(key, kind, now);
    return b.tokens >= 1 ? { ok: true } : { ok: false, retryAfterMs: this.waitMs(b, perMinute), perMinute };
  }

  private bucket(key: string, kind: LimitedKind, now: number): { b: Bucket; perMinute: number } {
    const perMinute = this.limits[PER_MINUTE[kind]];
    const id = `${kind}:${key}`;
    const b = this.buckets.get(id) ?? { tokens: perMinute, at: now };
    b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) * perMinute) / 60_000);
    b.at = now;
    this.buckets.set(id, b);
    if (this.buckets.size > MAX_BUCKETS) this.forget(now);
    return { b, perMinute };
  }

  private waitMs(b: Bucket, perMinute: number): number {
    return Math.ceil(((1 - b.tokens) * 60_000) / perMinute);
  }

  private forget(now: number) {
    for (const [k, b] of this.buckets) if (now - b.at > IDLE_FORGET_MS) this.buckets.delete(k);
  }
}
