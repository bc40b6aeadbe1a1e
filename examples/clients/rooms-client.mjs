// A client of the rooms protocol (rooms-server.mjs), written by hand over `ws`: it
// reconnects 500 ms after every close and joins its rooms (WSCHAOS_TOPICS) on every open,
// unless ROOMS_BUG=forgets (it joins on its first connection only). With ROOMS_SAY=ms it
// says something in its first room that often.
import WebSocket from 'ws';
import { obey, knob } from './probe.mjs';

const rooms = (process.env.WSCHAOS_TOPICS ?? '').split(',').filter(Boolean);
const forgets = process.env.ROOMS_BUG === 'forgets';
let connections = 0;
let ref = 0;
let closing = false;
let socket;

function connect() {
  const ws = new WebSocket(process.env.WSCHAOS_URL);
  socket = ws;
  ws.on('open', () => {
    connections += 1;
    if (connections === 1 || !forgets) {
      for (const room of rooms) ws.send(JSON.stringify({ op: 'join', room, ref: ++ref }));
    }
  });
  ws.on('message', (data) => console.log(`got ${data.toString().slice(0, 120)}`));
  ws.on('error', (e) => console.log(`error: ${e.message}`));
  ws.on('close', (code) => {
    console.log(`closed ${code}`);
    if (!closing) setTimeout(connect, 500);
  });
}

const every = knob('ROOMS_SAY', 0);
let n = 0;
if (every > 0 && rooms.length > 0) {
  setInterval(() => {
    if (socket?.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ op: 'say', room: rooms[0], text: `${process.env.WSCHAOS_NAME}#${++n}` }));
    }
  }, every);
}
obey((verb) => {
  if (verb === 'close') {
    closing = true;
    socket?.close(1000);
    process.exit(0);
  }
});
connect();
