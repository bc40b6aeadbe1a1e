// RxJS's webSocket subject with retry(), the reconnect wrapper of the article wschaos began
// from: on an error, wait (exponential, full jitter) and subscribe again, which reconnects.
// The adapter only subscribes to topics on every open, prints what arrives, and obeys
// stdin. Knobs (env): RX_INITIAL_DELAY, RX_MAX_DELAY (ms).
import { webSocket } from 'rxjs/webSocket';
import { retry, timer } from 'rxjs';
import WebSocket from 'ws';
import { subscribeFrames, onFrame, obey, knob, chat } from './probe.mjs';

const initial = knob('RX_INITIAL_DELAY', 500);
const max = knob('RX_MAX_DELAY', 5000);

const subject = webSocket({
  url: process.env.WSCHAOS_URL,
  WebSocketCtor: WebSocket,
  deserializer: (e) => e.data,
  serializer: (v) => v,
  openObserver: { next: () => subscribeFrames().forEach((f) => subject.next(f)) },
  closeObserver: { next: (e) => console.log(`close ${e.code} clean=${e.wasClean}`) },
});

let subscription = subject
  .pipe(retry({ delay: (_error, n) => timer(Math.random() * Math.min(max, initial * 2 ** (n - 1))) }))
  .subscribe({
    next: onFrame,
    error: (e) => console.log(`gave up: ${e}`),
    complete: () => console.log('completed: the stream ended, nothing will reconnect it'),
  });

chat((text) => subject.next(text));

obey((verb) => {
  if (verb === 'close') {
    subscription.unsubscribe();
    process.exit(0);
  }
});
