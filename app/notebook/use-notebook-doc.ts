import { useEffect, useState } from 'react';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import type { Awareness } from 'y-protocols/awareness';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export const CONNECTION_LABELS: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  offline: 'offline, edits kept',
};

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

  useEffect(() => {
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(syncUrl(window.location), notebookId, doc);
    const awareness = provider.awareness;
    let hasEverConnected = false;
    let lostAt: number | null = null;

    const update = () => {
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
    provider.on('status', onStatus);
    provider.on('sync', onSync);
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
      awareness.setLocalState(null);
      provider.destroy();
      doc.destroy();
      setSession(null);
    };
  }, [notebookId]);

  return { session, connection, isSynced };
}
