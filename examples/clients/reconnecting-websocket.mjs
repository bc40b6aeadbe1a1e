// reconnecting-websocket (npm, 4.4.0) under wschaos: its own reconnect logic, untouched.
// The adapter only subscribes on every open, prints what arrives, and obeys stdin.
// Knobs (env): RWS_MIN_DELAY, RWS_MAX_DELAY, RWS_GROW, RWS_MIN_UPTIME, RWS_TIMEOUT (ms).
import ReconnectingWebSocket from 'reconnecting-websocket';
import WebSocket from 'ws';
import { subscribeFrames, onFrame, obey, knob, chat } from './probe.mjs';

const options = { WebSocket, maxRetries: Infinity };
for (const [env, key] of [
  ['RWS_MIN_DELAY', 'minReconnectionDelay'],
  ['RWS_MAX_DELAY', 'maxReconnectionDelay'],
  ['RWS_GROW', 'reconnectionDelayGrowFactor'],
  ['RWS_MIN_UPTIME', 'minUptime'],
  ['RWS_TIMEOUT', 'connectionTimeout'],
]) {
  const v = knob(env, undefined);
  if (v !== undefined) options[key] = v;
}

const socket = new ReconnectingWebSocket(process.env.WSCHAOS_URL, [], options);
socket.addEventListener('open', () => subscribeFrames().forEach((f) => socket.send(f)));
socket.addEventListener('message', (e) => onFrame(e.data));
chat((text) => socket.send(text));
socket.addEventListener('close', (e) => console.log(`close ${e.code} ${e.reason ?? ''}`));
socket.addEventListener('error', (e) => console.log(`error ${e.message ?? ''}`));
obey((verb) => {
  if (verb === 'close') {
    socket.close();
    process.exit(0);
  }
  if (verb === 'reconnect') socket.reconnect();
});
