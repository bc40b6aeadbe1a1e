// phoenix (npm, 1.8.1), the Phoenix Channels client, under wschaos with its defaults: the
// socket reconnects after 10, 50, 100, 150, 200, 250, 500 ms, 1 s, 2 s, then every 5 s;
// each errored channel rejoins when the socket opens again; a heartbeat every 30 s. In Node
// it needs `transport` set to a WebSocket (here `ws`), or it falls back to long-polling.
// The adapter joins a channel per topic of WSCHAOS_TOPICS, logs what arrives, and obeys
// stdin. Knobs (env): PHX_HEARTBEAT (ms).
import { Socket } from 'phoenix';
import WebSocket from 'ws';
import { obey, knob } from './probe.mjs';

const options = { transport: WebSocket };
const heartbeat = knob('PHX_HEARTBEAT', undefined);
if (heartbeat !== undefined) options.heartbeatIntervalMs = heartbeat;
// The socket appends `/websocket?vsn=2.0.0` to its endpoint.
const socket = new Socket(process.env.WSCHAOS_URL.replace(/\/$/, ''), options);
socket.onOpen(() => console.log('socket open'));
socket.onClose((e) => console.log(`socket closed: ${e?.code} ${e?.reason ?? ''}`));
socket.onError((e) => console.log(`socket error: ${e?.message ?? e?.type ?? e}`));
socket.connect();

const channels = new Map();
function join(topic) {
  if (channels.has(topic)) return;
  const channel = socket.channel(topic, {});
  channel.on('message', (p) => console.log(`message ${topic} seq ${p?.seq}`));
  channel.onError(() => console.log(`channel ${topic} errored`));
  channel.onClose(() => console.log(`channel ${topic} closed`));
  channel
    .join()
    .receive('ok', () => console.log(`joined ${topic}`))
    .receive('error', (r) => console.log(`join ${topic} refused: ${JSON.stringify(r)}`))
    .receive('timeout', () => console.log(`join ${topic} timed out`));
  channels.set(topic, channel);
}

(process.env.WSCHAOS_TOPICS ?? '').split(',').filter(Boolean).forEach(join);
obey((verb, rest) => {
  if (verb === 'close') {
    socket.disconnect(() => process.exit(0));
  }
  if (verb === 'subscribe') join(rest);
  if (verb === 'unsubscribe') {
    channels.get(rest)?.leave();
    channels.delete(rest);
  }
  if (verb === 'publish') {
    const [topic, ...data] = rest.split(' ');
    channels.get(topic)?.push('message', { data: data.join(' ') });
  }
});
