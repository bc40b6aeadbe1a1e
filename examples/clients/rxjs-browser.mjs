// The article's client where it lives: RxJS's webSocket subject with retry(), inside a page
// in headless Chromium (Debian's, driven by playwright-core). The page's console carries
// the probe lines; stdin's action lines reach the page. Knobs (env): RX_INITIAL_DELAY,
// RX_MAX_DELAY (ms), CHROMIUM (the browser; default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { obey, knob } from './probe.mjs';

// The page comes from 127.0.0.1 as an app's would from its own host: Chromium blocks a page
// of no address (about:blank) from opening sockets to loopback (local network access).
const bundle = readFileSync(
  fileURLToPath(new URL('node_modules/rxjs/dist/bundles/rxjs.umd.min.js', import.meta.url)),
);
const site = createServer((request, response) => {
  if (request.url === '/rxjs.js') {
    response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
  } else {
    response
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><title>wschaos</title><script src="/rxjs.js"></script>');
  }
});
await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  // As root on a machine with no outside network: no sandbox, no background traffic.
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const stop = async (code) => {
  await browser.close().catch(() => {});
  site.close();
  process.exit(code);
};
process.on('SIGTERM', () => stop(0));

const page = await browser.newPage();
page.on('console', (message) => console.log(message.text()));
page.on('pageerror', (error) => console.log(`page error: ${error.message}`));
await page.goto(`http://127.0.0.1:${site.address().port}/`);
await page.evaluate(
  ({ url, topics, initial, max }) => {
    const { webSocket } = rxjs.webSocket;
    const { retry, timer } = rxjs;
    let epoch = 0;
    let conn = 0;
    const subject = webSocket({
      url,
      deserializer: (e) => e.data,
      serializer: (v) => v,
      openObserver: {
        next: () => topics.forEach((topic) => subject.next(JSON.stringify({ type: 'subscribe', topic }))),
      },
      closeObserver: { next: (e) => console.log(`close ${e.code} clean=${e.wasClean}`) },
    });
    window.wschaosSubscription = subject
      .pipe(retry({ delay: (_e, n) => timer(Math.random() * Math.min(max, initial * 2 ** (n - 1))) }))
      .subscribe({
        next: (text) => {
          const frame = JSON.parse(text);
          if (frame.type === 'welcome') {
            epoch = frame.epoch;
            conn = frame.conn ?? 0;
          } else if (frame.type === 'message') {
            const { topic, seq, from, id } = frame;
            console.log(JSON.stringify({ event: 'message', topic, epoch, seq, from, id, conn }));
          }
        },
        complete: () => console.log('completed: the stream ended, nothing will reconnect it'),
      });
  },
  {
    url: process.env.WSCHAOS_URL,
    topics: (process.env.WSCHAOS_TOPICS ?? '').split(',').filter(Boolean),
    initial: knob('RX_INITIAL_DELAY', 500),
    max: knob('RX_MAX_DELAY', 5000),
  },
);

obey(async (verb) => {
  if (verb === 'close') {
    await page.evaluate(() => window.wschaosSubscription.unsubscribe()).catch(() => {});
    await stop(0);
  }
});
