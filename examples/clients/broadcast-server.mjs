// The original article's server, in Node with `ws`: every text frame a client sends is
// relayed to every connected client (its sender too), and each join and leave goes to
// everyone. wschaos runs it as a `[server] command` (scenarios/real/*-own-server.toml):
// any server, in any language, behind the same proxies and checks.
//
//   node broadcast-server.mjs PORT
//
// On SIGTERM it closes every connection with 1001 (going away) and exits: its graceful
// stop, which a `graceful_restart` step triggers.
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
const server = new WebSocketServer({ host: '127.0.0.1', port });
let next = 0;

function everyone(text) {
  for (const ws of server.clients) ws.send(text);
}

server.on('connection', (ws, request) => {
  const name = new URL(request.url, 'ws://x').searchParams.get('client') ?? `anon-${++next}`;
  everyone(JSON.stringify({ type: 'joined', client: name, online: server.clients.size }));
  ws.on('message', (data, binary) => {
    if (!binary) everyone(data.toString());
  });
  ws.on('close', () =>
    everyone(JSON.stringify({ type: 'left', client: name, online: server.clients.size })));
});

server.on('listening', () => console.log(`listening on 127.0.0.1:${port}`));

process.on('SIGTERM', () => {
  for (const ws of server.clients) ws.close(1001, 'going away');
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
