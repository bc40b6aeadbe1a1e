// A client of graphql-transport-ws or Phoenix Channels written by hand over `ws`, the kind a
// team writes around a socket: it reconnects 500 ms after every close and subscribes on
// every open, unless told to get that wrong. For the real-network proof that a forgotten or
// doubled subscription is named from the client's own frames (scenarios/real/hand-*.toml).
// Env: HAND_PROTOCOL (graphql-transport-ws | phoenix), HAND_BUG (forgets: subscribes on its
// first connection only | twice: twice on every later one | none).
import WebSocket from 'ws';
import { obey } from './probe.mjs';

const protocol = process.env.HAND_PROTOCOL;
const bug = process.env.HAND_BUG ?? 'none';
const topics = (process.env.WSCHAOS_TOPICS ?? '').split(',').filter(Boolean);
const graphql = protocol === 'graphql-transport-ws';
if (!graphql && protocol !== 'phoenix') {
  console.error(`HAND_PROTOCOL must be graphql-transport-ws or phoenix, not ${protocol}`);
  process.exit(2);
}
let connections = 0;
let n = 0;
let closing = false;

function subscribe(ws, topic) {
  const ref = String(++n);
  ws.send(
    JSON.stringify(
      graphql
        ? { id: ref, type: 'subscribe', payload: { query: 'subscription { message }', variables: { topic } } }
        : [ref, ref, topic, 'phx_join', {}],
    ),
  );
}

function connect() {
  const base = process.env.WSCHAOS_URL.replace(/\/$/, '');
  const ws = graphql
    ? new WebSocket(base, ['graphql-transport-ws'])
    : new WebSocket(`${base}/socket/websocket?vsn=2.0.0`);
  const ready = () => {
    connections += 1;
    const times = connections === 1 ? 1 : bug === 'forgets' ? 0 : bug === 'twice' ? 2 : 1;
    for (const topic of topics) for (let i = 0; i < times; i++) subscribe(ws, topic);
  };
  ws.on('open', () => (graphql ? ws.send(JSON.stringify({ type: 'connection_init' })) : ready()));
  ws.on('message', (data) => {
    const text = data.toString();
    if (graphql && JSON.parse(text).type === 'connection_ack') ready();
  });
  ws.on('error', (e) => console.log(`error: ${e.message}`));
  ws.on('close', (code) => {
    console.log(`closed ${code}`);
    if (!closing) setTimeout(connect, 500);
  });
  obey((verb) => {
    if (verb === 'close') {
      closing = true;
      ws.close(1000);
      process.exit(0);
    }
  });
}
connect();
