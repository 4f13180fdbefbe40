// The notebook leases of several instances (server/notebook/lease.ts) against a real Redis: one
// holder at a time, renewal, expiry, fencing tokens that only grow, release, and a holder that
// learns it lost its lease.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KERNEL_PREFIX, LEASE_PREFIX, NotebookLeases } from '../../server/notebook/lease';
import { startRedis, type TestRedis } from '../support/redis';
import { scaled } from '../support/timing';

let redis: TestRedis;
const conns: Redis[] = [];
const leases: NotebookLeases[] = [];
beforeAll(async () => {
  redis = await startRedis();
}, 600_000);
afterEach(async () => {
  for (const l of leases.splice(0)) await l.close();
  for (const c of conns.splice(0)) c.disconnect();
});
afterAll(async () => {
  await redis?.stop();
});

function instance(name: string, leaseMs = 600): NotebookLeases {
  const conn = new Redis(redis.url);
  conns.push(conn);
  const l = new NotebookLeases(conn, { instanceId: name, url: () => `http://${name}:3000`, leaseMs, log: () => undefined });
  leases.push(l);
  return l;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let n = 0;
const notebook = () => `nb${Date.now()}x${n++}`;

describe('notebook leases on Redis', () => {
  it('one holder at a time: the second claimer is told who holds it, and the holder keeps it past the lease time by renewing', async () => {
    const a = instance('a');
    const b = instance('b');
    const id = notebook();
    const [ra, rb] = await Promise.all([a.claim(id), b.claim(id)]);
    // exactly one of them got it
    expect([ra, rb].filter((r) => r === null)).toHaveLength(1);
    const [winner, loser] = ra === null ? [a, b] : [b, a];
    const holder = await loser.claim(id);
    expect(holder?.instance).toBe(winner.instanceId);
    expect(holder?.url).toBe(`http://${winner.instanceId}:3000`);
    expect(winner.isHeld(id)).toBe(true);
    expect(loser.isHeld(id)).toBe(false);
    await sleep(1500); // 2.5 lease times: renewed every 200 ms
    expect(winner.isHeld(id)).toBe(true);
    expect((await loser.holder(id))?.instance).toBe(winner.instanceId);
  });

  it('a holder that stops renewing loses it within the lease time; the next claim has a greater fencing token', async () => {
    const conn = new Redis(redis.url);
    conns.push(conn);
    // "a" is killed: its claim stays in Redis until it expires, never renewed
    const a = new NotebookLeases(conn, { instanceId: 'a', url: () => 'http://a', leaseMs: 500, log: () => undefined });
    const id = notebook();
    expect(await a.claim(id)).toBeNull();
    const firstFence = a.fence(id)!;
    await conn.quit().catch(() => undefined); // no more renewals from "a"
    const b = instance('b', 500);
    expect((await b.claim(id))?.instance).toBe('a');
    const started = Date.now();
    while ((await b.claim(id)) !== null) await sleep(50);
    expect(Date.now() - started).toBeLessThan(scaled(800));
    expect(b.fence(id)!).toBeGreaterThan(firstFence);
    await a.close();
  });

  it('a holder whose lease was taken learns it at its next renewal, and can no longer record a kernel id', async () => {
    const a = instance('a', 600);
    const b = instance('b', 600);
    const id = notebook();
    const lost: string[] = [];
    a.onLost((nb) => lost.push(nb));
    expect(await a.claim(id)).toBeNull();
    expect(await a.setKernelId(id, 'kernel-1')).toBe(true);
    expect(await b.kernelId(id)).toBe('kernel-1');
    // "a" was paused past its lease; "b" took over meanwhile
    await conns[0].del(LEASE_PREFIX + id);
    expect(await b.claim(id)).toBeNull();
    await a.renewAll();
    expect(lost).toEqual([id]);
    expect(a.isHeld(id)).toBe(false);
    // a stale holder's write is refused (fenced by the lease value)
    expect(await a.setKernelId(id, 'kernel-stale')).toBe(false);
    expect(await b.setKernelId(id, 'kernel-2')).toBe(true);
    expect(await conns[0].get(KERNEL_PREFIX + id)).toBe('kernel-2');
  });

  it("release frees it at once, and never deletes another holder's lease", async () => {
    const a = instance('a');
    const b = instance('b');
    const id = notebook();
    expect(await a.claim(id)).toBeNull();
    await a.release(id);
    expect(await a.holder(id)).toBeNull();
    expect(await b.claim(id)).toBeNull();
    // a stale "a" releasing after "b" took it changes nothing
    await a.release(id);
    expect((await a.holder(id))?.instance).toBe('b');
    await b.close();
    expect(await a.holder(id)).toBeNull();
  });

  it('claimNew is true only for the call that took the lease', async () => {
    const a = instance('a');
    const id = notebook();
    const results = await Promise.all([a.claimNew(id), a.claimNew(id), a.claim(id)]);
    expect(results.filter((r) => r === true)).toHaveLength(1);
    expect(await a.claimNew(id)).toBe(false);
  });
});
