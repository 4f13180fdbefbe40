// WebSocket close codes the sync server uses (4000-4999 is the application range of RFC 6455).
export const CloseCode = {
  /** the server is shutting down; the provider reconnects to the next instance */
  GOING_AWAY: 1001,
  /** a frame larger than MAX_MESSAGE_BYTES (ws closes with this itself) */
  MESSAGE_TOO_BIG: 1009,
  /** a frame that is not a valid y-websocket message, or a Yjs update that does not decode */
  BAD_MESSAGE: 4400,
  /** no credential, or one that opens nothing (`?token=` missing or unknown) */
  UNAUTHORIZED: 4401,
  /** a valid credential that does not open this notebook */
  FORBIDDEN: 4403,
  /**
   * the client does not read what the server sends: its send buffer went past
   * MAX_SEND_BUFFER_BYTES, or it asked for the document (sync step 1) again and again while the
   * answer to an earlier request was still unread (server/sync/limits.ts)
   */
  SLOW_CONSUMER: 4408,
  /** the link this connection was opened with was revoked */
  REVOKED: 4410,
  /** no notebook with that id */
  NOT_FOUND: 4404,
  /** updates whose dependencies never arrived went past MAX_PENDING_BYTES_PER_CONNECTION / _PER_DOC */
  PENDING_LIMIT: 4409,
  /** the notebook is at MAX_DOC_BYTES: updates that add content are refused (deletions pass) */
  DOC_TOO_LARGE: 4413,
  /** a well-formed update that would break the notebook layout (common/notebook/layout.ts) */
  INVALID_LAYOUT: 4422,
  /**
   * more than a connection may send or hold: messages or bytes per second past the token buckets,
   * more presences (awareness client ids) than MAX_AWARENESS_CLIENTS_PER_CONNECTION, or one
   * presence state over MAX_AWARENESS_STATE_BYTES (server/sync/limits.ts); the reason says which
   */
  LIMIT_EXCEEDED: 4429,
  /** the document could not be loaded from storage */
  LOAD_FAILED: 4500,
} as const;

export const CloseReason: Record<number, string> = {
  [CloseCode.GOING_AWAY]: 'server shutting down',
  [CloseCode.MESSAGE_TOO_BIG]: 'message too big',
  [CloseCode.BAD_MESSAGE]: 'malformed message',
  [CloseCode.UNAUTHORIZED]: 'unauthorized: open the notebook with its link (?token=...)',
  [CloseCode.FORBIDDEN]: 'forbidden: this token does not open this notebook',
  [CloseCode.SLOW_CONSUMER]: 'too slow: the client does not read what it asked for',
  [CloseCode.REVOKED]: 'access revoked: the link was deleted by the owner',
  [CloseCode.NOT_FOUND]: 'notebook not found',
  [CloseCode.PENDING_LIMIT]: 'too many updates with missing dependencies',
  [CloseCode.DOC_TOO_LARGE]: 'notebook too large',
  [CloseCode.INVALID_LAYOUT]: 'update refused: it breaks the notebook layout',
  [CloseCode.LIMIT_EXCEEDED]: 'too much: over a per-connection limit',
  [CloseCode.LOAD_FAILED]: 'notebook could not be loaded',
};

/** Largest WebSocket frame accepted from a client. Pasting a big file into a cell fits; more does not. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
