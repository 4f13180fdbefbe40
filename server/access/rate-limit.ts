// Runs and generations per credential: a token bucket each, refilled continuously. A client over
// its budget gets 429 with Retry-After; nobody else is slowed down.

export interface RateLimits {
  /** runs (one request, however many cells) per minute per credential */
  runsPerMinute: number;
  /** AI generations per minute per credential */
  generationsPerMinute: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = { runsPerMinute: 120, generationsPerMinute: 20 };
/** Buckets not touched for this long are forgotten. */
const IDLE_FORGET_MS = 10 * 60_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private buckets = new Map<string, Bucket>();

  constructor(private limits: RateLimits = DEFAULT_RATE_LIMITS) {}

  /** Takes one from the bucket; answers how long to wait when it is empty. */
  take(key: string, kind: 'run' | 'generate', now = Date.now()): { ok: true } | { ok: false; retryAfterMs: number; perMinute: number } {
    const perMinute = kind === 'run' ? this.limits.runsPerMinute : this.limits.generationsPerMinute;
    const id = `${kind}:${key}`;
    const b = this.buckets.get(id) ?? { tokens: perMinute, at: now };
    b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) * perMinute) / 60_000);
    b.at = now;
    this.buckets.set(id, b);
    if (this.buckets.size > 10_000) this.forget(now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - b.tokens) * 60_000) / perMinute), perMinute };
  }

  private forget(now: number) {
    for (const [k, b] of this.buckets) if (now - b.at > IDLE_FORGET_MS) this.buckets.delete(k);
  }
}
