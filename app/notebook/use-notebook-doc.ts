import { useEffect, useState } from 'react';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import type { Awareness } from 'y-protocols/awareness';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'closed';

export const CONNECTION_LABELS: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  offline: 'offline, edits kept',
  closed: 'disconnected',
};

/**
 * Close codes of the sync server (server/sync/close-codes.ts) that end this page's access: the
 * link was revoked, the token no longer opens anything, or opens another notebook. Trying again
 * cannot help, so the page stops and says why.
 */
export const ACCESS_CLOSE_CODES: Record<number, string> = {
  4401: 'Your access to this notebook ended: the link you opened it with is no longer valid.',
  4403: 'Your access to this notebook ended: your link does not open this notebook.',
  4404: 'This notebook no longer exists.',
  4410: 'Your access to this notebook was revoked: its owner deleted the link you opened it with.',
};

/** Why the server closed the connection for good (the provider no longer reconnects). */
export interface ClosedInfo {
  code: number;
  /** a sentence for people */
  message: string;
  /** the page's credential no longer opens the notebook */
  isAccessLost: boolean;
}

export function describeClose(code: number, reason: string): ClosedInfo {
  const access = ACCESS_CLOSE_CODES[code];
  if (access) return { code, message: access, isAccessLost: true };
  const why = reason ? `: ${reason}` : '';
  return { code, message: `The server closed the connection (${code}${why}). Reload the page to reconnect; changes made since are not saved.`, isAccessLost: false };
}

/** server/sync/close-codes.ts: SLOW_CONSUMER (4408), LIMIT_EXCEEDED (4429) */
const RECONNECT_CLOSE_CODES = new Set([4408, 4429]);

/** After this long without a connection we stop saying "reconnecting" and say "offline". */
export const OFFLINE_AFTER_MS = 8000;

export interface NotebookSession {
  doc: Y.Doc;
  provider: WebsocketProvider;
  awareness: Awareness;
}

export function syncUrl(location: Location): string {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/sync`;
}

/**
 * One Y.Doc per open notebook, synced with the server over the y-websocket protocol.
 * Edits made while disconnected stay in the doc and are sent when the socket comes back.
 */
export function useNotebookDoc(notebookId: string) {
  const [session, setSession] = useState<NotebookSession | null>(null);
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [isSynced, setIsSynced] = useState(false);
  const [closed, setClosed] = useState<ClosedInfo | null>(null);

  useEffect(() => {
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(syncUrl(window.location), notebookId, doc, {
      // 44xx closes are for good, but for the two bounds an honest page can meet (a tab that fell
      // too far behind, a burst past the rate): it reconnects (with y-websocket's backoff) and syncs
      shouldReconnect: (event) => !(event.code >= 4400 && event.code < 4500) || RECONNECT_CLOSE_CODES.has(event.code),
    });
    const awareness = provider.awareness;
    let hasEverConnected = false;
    let lostAt: number | null = null;
    let isClosedForGood = false;

    const update = () => {
      if (isClosedForGood) {
        setConnection('closed');
        return;
      }
      if (provider.wsconnected) {
        hasEverConnected = true;
        lostAt = null;
        setConnection('connected');
        return;
      }
      if (!hasEverConnected && navigator.onLine) {
        setConnection('connecting');
        return;
      }
      lostAt ??= Date.now();
      const isLongGone = Date.now() - lostAt > OFFLINE_AFTER_MS;
      setConnection(!navigator.onLine || isLongGone ? 'offline' : 'reconnecting');
    };
    const onSync = (synced: boolean) => setIsSynced(synced && provider.wsconnected);
    const onStatus = () => {
      update();
      if (!provider.wsconnected) setIsSynced(false);
    };
    // y-websocket stops by itself after a 44xx close ('closed'); the access codes stop it in any
    // version, since a page whose link was revoked must not keep knocking
    const endForGood = (code: number, reason: string) => {
      if (isClosedForGood) return;
      isClosedForGood = true;
      provider.shouldConnect = false;
      setClosed(describeClose(code, reason));
      setIsSynced(false);
      update();
    };
    const onConnectionClose = (event: CloseEvent | null) => {
      if (event && ACCESS_CLOSE_CODES[event.code]) endForGood(event.code, event.reason);
    };
    const onClosed = (event: { code: number; reason: string }) => endForGood(event.code, event.reason);
    provider.on('status', onStatus);
    provider.on('sync', onSync);
    provider.on('connection-close', onConnectionClose);
    provider.on('closed', onClosed);
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    const timer = window.setInterval(update, 1000);
    setSession({ doc, provider, awareness });

    return () => {
      window.clearInterval(timer);
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
      provider.off('status', onStatus);
      provider.off('sync', onSync);
      provider.off('connection-close', onConnectionClose);
      provider.off('closed', onClosed);
      awareness.setLocalState(null);
      provider.destroy();
      doc.destroy();
      setSession(null);
    };
  }, [notebookId]);

  return { session, connection, isSynced, closed };
}
