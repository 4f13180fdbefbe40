// Real y-websocket clients in Node, for integration tests and benchmarks.
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import WebSocket from 'ws';
import { TEST_ADMIN_TOKEN } from './auth';
import { UI_MS } from './timing';

// each WebsocketProvider adds a process 'exit' listener in Node; tests run ten at a time
process.setMaxListeners(100);

export interface YClient {
  doc: Y.Doc;
  provider: WebsocketProvider;
  synced: Promise<void>;
  destroy(): void;
}

/** A Yjs client of a notebook; it signs in with `token` (default: the test servers' admin token). */
export function connectClient(wsUrl: string, notebookId: string, opts: { connect?: boolean; token?: string } = {}): YClient {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(wsUrl, notebookId, doc, {
    params: { token: opts.token ?? TEST_ADMIN_TOKEN },
    // the polyfill is how y-websocket runs in Node
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    connect: opts.connect ?? true,
    disableBc: true,
    maxBackoffTime: 300,
  });
  const synced = new Promise<void>((resolve) => {
    if (provider.synced) resolve();
    const onSync = (s: boolean) => {
      if (s) {
        provider.off('sync', onSync);
        resolve();
      }
    };
    provider.on('sync', onSync);
  });
  return {
    doc,
    provider,
    synced,
    destroy() {
      provider.destroy();
      doc.destroy();
    },
  };
}

export async function waitFor<T>(fn: () => T | undefined | null | false, opts: { timeoutMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? UI_MS);
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'a condition'}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
