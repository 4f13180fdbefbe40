// The baseline of the sync benchmarks, in its own process: the reference y-websocket server
// (@y/websocket-server 0.1.1's setupWSConnection, as its bin/server.js uses it: documents in
// memory, no persistence, no checks). The query string (our ?token=) is ignored.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { setupWSConnection, docs } from '@y/websocket-server/utils';
import * as Y from 'yjs';
import { memory, serve } from './proc';

const server = http.createServer((_req, res) => res.writeHead(200).end('ok'));
const wss = new WebSocketServer({ noServer: true });
wss.on('connection', (conn, req: http.IncomingMessage) => setupWSConnection(conn, req));
server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
serve(
  {
    memory: () => memory(),
    docBytes: (name: string) => {
      const d = (docs as Map<string, Y.Doc>).get(name);
      return d ? Y.encodeStateAsUpdate(d).byteLength : 0;
    },
  },
  { url },
);
