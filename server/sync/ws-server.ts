// The thin socket layer: WebSocket upgrades on /sync/:id become SyncConnections of a DocRoom.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { CloseCode, CloseReason, MAX_MESSAGE_BYTES } from './close-codes';
import { MAX_SEND_BUFFER_BYTES, RateLimiter } from './limits';
import { MalformedMessageError, type SyncConnection } from './room';
import type { RoomManager } from './rooms';

export const SYNC_PATH = /^\/sync\/([A-Za-z0-9_-]{1,64})\/?$/;
/** A client that answers no ping for this long is dropped (its awareness goes with it). */
export const PING_INTERVAL_MS = 30_000;

type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

/** What the access layer decided for one upgrade: who it is, or which close code refuses it. */
export type SyncAccess = { ok: true; isReadOnly: boolean; grantId: string | null } | { ok: false; code: number };

export interface SyncServerOptions {
  /** decides who may open a notebook's socket; default: everyone, read-write (sync-only tests) */
  authorize?: (req: http.IncomingMessage, notebookId: string) => Promise<SyncAccess>;
}

export interface SyncServer {
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** closes at once every connection opened with this grant (a revoked link) */
  closeGrant(grantId: string): void;
  close(): Promise<void>;
}

export function createSyncServer(rooms: RoomManager, log: Log, opts: SyncServerOptions = {}): SyncServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const alive = new WeakMap<WebSocket, boolean>();
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, PING_INTERVAL_MS);
  pinger.unref();

  const byGrant = new Map<string, Set<WebSocket>>();

  function onConnection(ws: WebSocket, notebookId: string, access: Extract<SyncAccess, { ok: true }>) {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    if (access.grantId) {
      const set = byGrant.get(access.grantId) ?? new Set<WebSocket>();
      set.add(ws);
      byGrant.set(access.grantId, set);
      ws.on('close', () => {
        set.delete(ws);
        if (!set.size) byGrant.delete(access.grantId!);
      });
    }
    let isClosing = false;
    /** closes once with a named code; what the socket still sends or is sent is dropped */
    const closeWith = (code: number, reason: string) => {
      if (isClosing) return;
      isClosing = true;
      ws.close(code, reason);
    };
    const refuse = (code: number, reason: string) => {
      if (isClosing) return;
      log('warn', `sync ${notebookId}: closing a connection (${code}): ${reason}`);
      closeWith(code, reason);
    };
    /** bytes of the sync step 2 answer handed to ws and not written out yet (exempt from the limit) */
    let stateBytesUnsent = 0;
    const isOverBuffer = () => ws.bufferedAmount - stateBytesUnsent > MAX_SEND_BUFFER_BYTES;
    const conn: SyncConnection = {
      send: (m) => {
        if (isClosing || ws.readyState !== ws.OPEN) return;
        // a client that does not read is closed, never buffered without end (the message that
        // crosses the limit is still queued: one big paste reaches a reader with an empty buffer)
        if (isOverBuffer()) {
          refuse(CloseCode.SLOW_CONSUMER, `${ws.bufferedAmount} bytes unread, over ${MAX_SEND_BUFFER_BYTES}`);
          return;
        }
        ws.send(m, { binary: true });
      },
      sendState: (m, onSent) => {
        if (isClosing || ws.readyState !== ws.OPEN) return;
        if (isOverBuffer()) {
          refuse(CloseCode.SLOW_CONSUMER, `${ws.bufferedAmount} bytes unread, over ${MAX_SEND_BUFFER_BYTES}`);
          return;
        }
        stateBytesUnsent += m.byteLength;
        ws.send(m, { binary: true }, () => {
          stateBytesUnsent -= m.byteLength;
          onSent();
        });
      },
      close: closeWith,
      isReadOnly: access.isReadOnly,
    };
    const rate = new RateLimiter();
    // messages that arrive while the document loads are handled in order once it is loaded
    const pending: Uint8Array[] = [];
    let room: Awaited<ReturnType<RoomManager['get']>> = null;
    let closed = false;

    const handle = (data: Uint8Array) => {
      if (isClosing) return;
      try {
        room!.handleMessage(conn, data);
      } catch (err) {
        const code = CloseCode.BAD_MESSAGE;
        if (!(err instanceof MalformedMessageError)) log('error', `sync ${notebookId}: unexpected: ${(err as Error).stack}`);
        log('warn', `sync ${notebookId}: closing a connection: ${(err as Error).message}`);
        closeWith(code, CloseReason[code]);
      }
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isClosing) return;
      if (!isBinary) {
        closeWith(CloseCode.BAD_MESSAGE, 'binary frames only');
        return;
      }
      const bytes = toBytes(data);
      if (!rate.take(bytes.byteLength)) {
        refuse(CloseCode.LIMIT_EXCEEDED, 'too many messages or bytes per second');
        return;
      }
      if (room) handle(bytes);
      else pending.push(bytes);
    });
    ws.on('close', () => {
      closed = true;
      if (room) {
        room.disconnect(conn);
        rooms.maybeUnload(notebookId);
      }
    });
    ws.on('error', (err) => log('warn', `sync ${notebookId}: socket error: ${err.message}`));

    rooms
      .get(notebookId)
      .then(async (r) => {
        if (!r) {
          ws.close(CloseCode.NOT_FOUND, CloseReason[CloseCode.NOT_FOUND]);
          return;
        }
        if (closed) {
          rooms.maybeUnload(notebookId);
          return;
        }
        await r.connect(conn);
        if (closed) {
          r.disconnect(conn);
          rooms.maybeUnload(notebookId);
          return;
        }
        room = r;
        for (const m of pending.splice(0)) handle(m);
      })
      .catch((err) => {
        log('error', `sync ${notebookId}: ${(err as Error).message}`);
        ws.close(CloseCode.LOAD_FAILED, CloseReason[CloseCode.LOAD_FAILED]);
      });
  }

  return {
    handleUpgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const match = SYNC_PATH.exec(url.pathname);
      if (!match) return false;
      const notebookId = match[1];
      const decide = opts.authorize ? opts.authorize(req, notebookId) : Promise.resolve<SyncAccess>({ ok: true, isReadOnly: false, grantId: null });
      decide.then(
        (access) => {
          wss.handleUpgrade(req, socket, head, (ws) => {
            // refusals are answered on the socket with a named close code, which a provider reports
            if (!access.ok) ws.close(access.code, CloseReason[access.code] ?? 'refused');
            else onConnection(ws, notebookId, access);
          });
        },
        (err: unknown) => {
          log('error', `sync ${notebookId}: authorizing: ${(err as Error).message}`);
          socket.end('HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n');
        },
      );
      return true;
    },
    closeGrant(grantId) {
      for (const ws of byGrant.get(grantId) ?? []) ws.close(CloseCode.REVOKED, CloseReason[CloseCode.REVOKED]);
    },
    async close() {
      clearInterval(pinger);
      for (const ws of wss.clients) ws.close(CloseCode.GOING_AWAY, CloseReason[CloseCode.GOING_AWAY]);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
