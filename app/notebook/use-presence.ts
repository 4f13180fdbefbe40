import { useEffect, useMemo, useState } from 'react';
import type { Awareness } from 'y-protocols/awareness';
import type { LocalUser } from './identity';

/**
 * Awareness state of one person. The server and the tests rely on `user` and `cellId`;
 * y-monaco adds `selection` (relative positions in the cell's source) while an editor is open.
 */
export interface PresenceState {
  user: LocalUser;
  cellId: string | null;
}

export interface Peer extends PresenceState {
  clientId: number;
  isSelf: boolean;
}

function isPresenceState(value: unknown): value is PresenceState {
  if (!value || typeof value !== 'object') return false;
  const user = (value as { user?: unknown }).user as Partial<LocalUser> | undefined;
  return !!user && typeof user.name === 'string' && typeof user.color === 'string';
}

/** Everyone in the notebook (this browser included), stable-ordered by client id. */
export function usePeers(awareness: Awareness | null): Peer[] {
  const [peers, setPeers] = useState<Peer[]>([]);
  useEffect(() => {
    if (!awareness) return;
    const refresh = () => {
      const list: Peer[] = [];
      awareness.getStates().forEach((state, clientId) => {
        if (!isPresenceState(state)) return;
        list.push({
          clientId,
          user: { name: state.user.name, color: state.user.color },
          cellId: typeof state.cellId === 'string' ? state.cellId : null,
          isSelf: clientId === awareness.clientID,
        });
      });
      list.sort((a, b) => a.clientId - b.clientId);
      setPeers((prev) => (samePeers(prev, list) ? prev : list));
    };
    refresh();
    // 'change' fires only when a state actually changed, unlike 'update' (heartbeats)
    awareness.on('change', refresh);
    return () => awareness.off('change', refresh);
  }, [awareness]);
  return peers;
}

function samePeers(a: Peer[], b: Peer[]): boolean {
  if (a.length !== b.length) return false;
  return a.every(
    (p, i) =>
      p.clientId === b[i].clientId &&
      p.cellId === b[i].cellId &&
      p.user.name === b[i].user.name &&
      p.user.color === b[i].user.color,
  );
}

/** Other people grouped by the cell they are in. */
export function usePeersByCell(peers: Peer[]): Map<string, Peer[]> {
  return useMemo(() => {
    const map = new Map<string, Peer[]>();
    for (const p of peers) {
      if (p.isSelf || !p.cellId) continue;
      const list = map.get(p.cellId);
      if (list) list.push(p);
      else map.set(p.cellId, [p]);
    }
    return map;
  }, [peers]);
}

/** Publishes who we are and which cell we are in. */
export function useLocalPresence(awareness: Awareness | null, user: LocalUser | null, cellId: string | null) {
  useEffect(() => {
    if (!awareness || !user) return;
    awareness.setLocalStateField('user', { name: user.name, color: user.color });
  }, [awareness, user]);
  useEffect(() => {
    if (!awareness || !user) return;
    awareness.setLocalStateField('cellId', cellId);
  }, [awareness, user, cellId]);
}

function cssString(value: string): string {
  return '"' + value.replace(/[\\"]/g, '\\$&').replace(/[\u0000-\u001f<>]/g, ' ') + '"';
}

/**
 * y-monaco marks remote selections with `.yRemoteSelection-<clientID>` and carets with
 * `.yRemoteSelectionHead-<clientID>`; this gives each one its person's colour and name.
 */
export function remoteCursorCss(peers: Peer[]): string {
  return peers
    .filter((p) => !p.isSelf && /^#[0-9a-f]{6}$/i.test(p.user.color))
    .map((p) => {
      const { clientId: id, user } = p;
      return [
        `.yRemoteSelection-${id}{background-color:${user.color}33;}`,
        `.yRemoteSelectionHead-${id}{border-color:${user.color};}`,
        `.yRemoteSelectionHead-${id}::after{content:${cssString(user.name)};background:${user.color};}`,
      ].join('\n');
    })
    .join('\n');
}
