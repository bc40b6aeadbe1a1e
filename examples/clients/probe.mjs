// What both adapters share: the wschaos protocol frames they send and read, the probe
// lines they print (docs: scenarios/README.md, "Real-network runs"), and the action lines
// they read on stdin. Nothing here decides when to reconnect: that is the library's job.

const topics = (process.env.WSCHAOS_TOPICS ?? '').split(',').filter(Boolean);

/** The subscribe frames to send on every open (the library does not restore them). */
export function subscribeFrames() {
  return topics.map((topic) => JSON.stringify({ type: 'subscribe', topic }));
}

let epoch = 0;
let conn = 0;

/** Prints a probe line for every message frame (the welcome gives epoch and connection);
 * with PROBE_FRAMES=1 (the broadcast protocol, whose frames are anything), a `frame` line
 * for every text frame instead. */
export function onFrame(text) {
  if (process.env.PROBE_FRAMES === '1') {
    console.log(JSON.stringify({ event: 'frame', text: String(text) }));
    return;
  }
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    console.log(`not json: ${String(text).slice(0, 200)}`);
    return;
  }
  if (frame.type === 'welcome') {
    epoch = frame.epoch;
    conn = frame.conn ?? 0;
  } else if (frame.type === 'message') {
    const { topic, seq, from, id } = frame;
    console.log(JSON.stringify({ event: 'message', topic, epoch, seq, from, id, conn }));
  }
}

/** Calls `act(verb, rest)` for every action line on stdin; keeps the process alive. */
export function obey(act) {
  let pending = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      const [verb, ...rest] = line.split(' ');
      if (verb) act(verb, rest.join(' '));
    }
  });
}

/** A number from the environment, or the default. */
export function knob(name, fallback) {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && process.env[name] !== '' && process.env[name] !== undefined ? v : fallback;
}

/** With CHAT_EVERY (ms) set, calls `send(text)` that often with `NAME#N` (N from 1): the
 * chatter of the broadcast protocol. The library decides what happens to a send while it
 * is offline. */
export function chat(send) {
  const every = knob('CHAT_EVERY', 0);
  if (every <= 0) return;
  let n = 0;
  setInterval(() => send(`${process.env.WSCHAOS_NAME}#${++n}`), every);
}
