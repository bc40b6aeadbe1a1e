// graphql-ws (npm, 6.0.6), the graphql-transport-ws client Apollo and urql use, under
// wschaos with its defaults: createClient's own retries (retryAttempts 5, a randomised
// exponential wait of 2^n s + 0.3-3 s, retries only on close events), a lazy connection and
// no keep-alive. The adapter subscribes to each topic of WSCHAOS_TOPICS (as
// `variables.topic`, which the built-in server reads), logs what arrives, and obeys stdin;
// the library decides when to reconnect and what to send again.
// Knobs (env): GQL_RETRY_ATTEMPTS, GQL_KEEP_ALIVE (ms), GQL_RETRY_ERRORS=1 (shouldRetry
// returns true: failed dials are retried too, as graphql-ws's docs suggest for flaky
// networks).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { obey, knob } from './probe.mjs';

const options = { url: process.env.WSCHAOS_URL, webSocketImpl: WebSocket };
const attempts = knob('GQL_RETRY_ATTEMPTS', undefined);
if (attempts !== undefined) options.retryAttempts = attempts;
const keepAlive = knob('GQL_KEEP_ALIVE', undefined);
if (keepAlive !== undefined) options.keepAlive = keepAlive;
if (process.env.GQL_RETRY_ERRORS === '1') options.shouldRetry = () => true;

/** What an error or a close event says, on one line. */
const said = (e) =>
  e?.code !== undefined
    ? `close ${e.code} ${e.reason ?? ''}`
    : Array.isArray(e)
      ? e.map((x) => x.message).join('; ')
      : String(e?.message ?? e);

options.on = {
  connecting: (retrying) => console.log(`connecting${retrying ? ' (retrying)' : ''}`),
  connected: () => console.log('connected'),
  closed: (e) => console.log(`closed: ${said(e)}`),
  error: (e) => console.log(`error: ${said(e)}`),
};
const client = createClient(options);

const subscription =
  'subscription ($topic: String!) { message(topic: $topic) { topic seq from id data } }';
const mutation =
  'mutation ($topic: String!, $data: String!) { publish(topic: $topic, data: $data) { seq } }';
const subscriptions = new Map();

function subscribe(topic) {
  if (subscriptions.has(topic)) return;
  const dispose = client.subscribe(
    { query: subscription, variables: { topic } },
    {
      next: ({ data }) => console.log(`message ${topic} seq ${data?.message?.seq}`),
      error: (e) => {
        subscriptions.delete(topic);
        console.log(`subscription ${topic} ended with an error: ${said(e)}`);
      },
      complete: () => console.log(`subscription ${topic} complete`),
    },
  );
  subscriptions.set(topic, dispose);
}

(process.env.WSCHAOS_TOPICS ?? '').split(',').filter(Boolean).forEach(subscribe);
obey((verb, rest) => {
  if (verb === 'close') {
    client.dispose();
    process.exit(0);
  }
  if (verb === 'subscribe') subscribe(rest);
  if (verb === 'unsubscribe') {
    subscriptions.get(rest)?.();
    subscriptions.delete(rest);
  }
  if (verb === 'publish') {
    const [topic, ...data] = rest.split(' ');
    client.subscribe(
      { query: mutation, variables: { topic, data: data.join(' ') } },
      { next: () => {}, error: (e) => console.log(`publish failed: ${said(e)}`), complete: () => {} },
    );
  }
});
