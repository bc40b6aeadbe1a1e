// A server of a protocol wschaos does not know, in Node with `ws`: chat rooms. A client
// sends {"op":"join","room":R,"ref":N} and gets {"op":"joined","room":R,"ref":N}; it sends
// {"op":"say","room":R,"text":T} and everyone in R gets {"op":"said","room":R,"n":K,"text":T};
// {"op":"leave","room":R} leaves. A scenario reads it through a `[protocol]` table
// (scenarios/real/rooms-*.toml), run as a `[server] command`.
//
//   node rooms-server.mjs PORT
//
// On SIGTERM it closes every connection with 1001 (going away) and exits.
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
const server = new WebSocketServer({ host: '127.0.0.1', port });
const rooms = new Map();
let said = 0;

server.on('connection', (ws) => {
  const joined = new Set();
  ws.on('message', (data, binary) => {
    if (binary) return;
    let m;
    try {
      m = JSON.parse(data.toString());
    } catch {
      return ws.send(JSON.stringify({ op: 'oops', why: 'not JSON' }));
    }
    if (m.op === 'join' && typeof m.room === 'string') {
      if (!rooms.has(m.room)) rooms.set(m.room, new Set());
      rooms.get(m.room).add(ws);
      joined.add(m.room);
      ws.send(JSON.stringify({ op: 'joined', room: m.room, ref: m.ref }));
    } else if (m.op === 'leave') {
      rooms.get(m.room)?.delete(ws);
      joined.delete(m.room);
    } else if (m.op === 'say' && rooms.has(m.room)) {
      said += 1;
      const out = JSON.stringify({ op: 'said', room: m.room, n: said, text: m.text });
      for (const peer of rooms.get(m.room)) peer.send(out);
    } else {
      ws.send(JSON.stringify({ op: 'oops', why: `unknown op ${m.op}` }));
    }
  });
  ws.on('close', () => {
    for (const room of joined) rooms.get(room)?.delete(ws);
  });
});

server.on('listening', () => console.log(`listening on 127.0.0.1:${port}`));

process.on('SIGTERM', () => {
  for (const ws of server.clients) ws.close(1001, 'going away');
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
