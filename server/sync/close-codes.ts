// WebSocket close codes the sync server uses (4000-4999 is the application range of RFC 6455).
export const CloseCode = {
  /** the server is shutting down; the provider reconnects to the next instance */
  GOING_AWAY: 1001,
  /** a frame larger than MAX_MESSAGE_BYTES (ws closes with this itself) */
  MESSAGE_TOO_BIG: 1009,
  /** a frame that is not a valid y-websocket message, or a Yjs update that does not decode */
  BAD_MESSAGE: 4400,
  /** access control (coming with roles) */
  FORBIDDEN: 4403,
  /** no notebook with that id */
  NOT_FOUND: 4404,
  /** the document could not be loaded from storage */
  LOAD_FAILED: 4500,
} as const;

export const CloseReason: Record<number, string> = {
  [CloseCode.GOING_AWAY]: 'server shutting down',
  [CloseCode.MESSAGE_TOO_BIG]: 'message too big',
  [CloseCode.BAD_MESSAGE]: 'malformed message',
  [CloseCode.FORBIDDEN]: 'forbidden',
  [CloseCode.NOT_FOUND]: 'notebook not found',
  [CloseCode.LOAD_FAILED]: 'notebook could not be loaded',
};

/** Largest WebSocket frame accepted from a client. Pasting a big file into a cell fits; more does not. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
