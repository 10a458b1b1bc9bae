// graphql-transport-ws as clients speak it, against a running server:
//   ILS_WS_URL=ws://127.0.0.1:8080/graphql/ws ILS_GRAPHQL_URL=http://127.0.0.1:8080/graphql \
//   ILS_ACCESS_TOKEN=<a company admin's access token> node ws-protocol.mjs
// The graphql-ws client (with the `ws` package, as Node 20 has no WebSocket of its own)
// runs a query, a live subscription, and the refusals it reports (a validation error as an
// `error` message, 4403 for refused credentials, 4409 for a duplicate id); raw frames check
// the close codes the client never provokes (4401, 4429, 4400). One line per check; exits
// 1 when any fails.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const WS_URL = process.env.ILS_WS_URL;
const HTTP_URL = process.env.ILS_GRAPHQL_URL;
const TOKEN = process.env.ILS_ACCESS_TOKEN;
if (!WS_URL || !HTTP_URL || !TOKEN) {
  console.error('set ILS_WS_URL, ILS_GRAPHQL_URL and ILS_ACCESS_TOKEN');
  process.exit(2);
}
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const WAIT_MS = 10_000;

function within(ms, what, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function assert(ok, message) {
  if (!ok) throw new Error(message);
}

/** A graphql-ws client that reports closes instead of retrying them. */
function client(options = {}) {
  const closes = [];
  const connections = [];
  const c = createClient({
    url: WS_URL,
    webSocketImpl: WebSocket,
    connectionParams: AUTH,
    retryAttempts: 0,
    lazy: true,
    on: { closed: (event) => closes.push(event), connected: (socket) => connections.push(socket) },
    ...options,
  });
  return { c, closes, connections };
}

/** Runs `payload` through the client and settles with what the sink saw. */
function run(c, payload, { untilNext = false } = {}) {
  const seen = [];
  let dispose;
  const done = new Promise((resolve) => {
    dispose = c.subscribe(payload, {
      next: (value) => {
        seen.push(value);
        if (untilNext) resolve({ seen, how: 'next' });
      },
      error: (error) => resolve({ seen, how: 'error', error }),
      complete: () => resolve({ seen, how: 'complete' }),
    });
  });
  return { done, dispose: () => dispose() };
}

async function post(query, variables = {}) {
  const res = await fetch(HTTP_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

/** A raw socket speaking graphql-transport-ws: what it received, and how it closed. */
function raw() {
  const socket = new WebSocket(WS_URL, 'graphql-transport-ws');
  const messages = [];
  const waiters = [];
  const closed = new Promise((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString());
    messages.push(message);
    for (const w of waiters.splice(0)) w();
  });
  const opened = new Promise((resolve, reject) => {
    socket.on('open', resolve);
    socket.on('error', reject);
  });
  return {
    opened,
    closed,
    messages,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    /** The first message (from the start) `match` accepts. */
    async waitFor(match, what) {
      return within(WAIT_MS, what, (async () => {
        for (;;) {
          const found = messages.find(match);
          if (found) return found;
          await new Promise((resolve) => waiters.push(resolve));
        }
      })());
    },
    close: () => socket.close(),
  };
}

async function closedWith(socket, code, reasonPart, what) {
  const { code: got, reason } = await within(WAIT_MS, what, socket.closed);
  assert(got === code, `${what}: closed with ${got} "${reason}", expected ${code}`);
  assert(reason.includes(reasonPart), `${what}: close reason "${reason}" lacks "${reasonPart}"`);
  return reason;
}

const SUBSCRIPTION = 'subscription { events(types: ["marketplace.profile_updated"]) { type data } }';
const SAVE_PROFILE =
  'mutation { updateMarketplaceProfile(input: { description: "conformance" }) { marketplaceProfile { companyId } } }';

const checks = {
  'client: a query answers next, then complete': async () => {
    const { c } = client();
    const { done } = run(c, { query: '{ me { user { email } } }' });
    const r = await within(WAIT_MS, 'query', done);
    await c.dispose();
    assert(r.how === 'complete', `ended with ${r.how}: ${JSON.stringify(r.error ?? r.seen)}`);
    assert(r.seen.length === 1 && typeof r.seen[0].data?.me?.user?.email === 'string', JSON.stringify(r.seen));
  },

  'client: a subscription delivers live events until the client completes it': async () => {
    const { c } = client();
    const sub = run(c, { query: SUBSCRIPTION }, { untilNext: true });
    // The subscription may reach the event bus a moment after it was sent: save the profile
    // until an event arrives.
    let r;
    for (let i = 0; i < 20 && !r; i++) {
      const saved = await post(SAVE_PROFILE);
      assert(!saved.errors, JSON.stringify(saved));
      r = await Promise.race([sub.done, new Promise((resolve) => setTimeout(resolve, 1000))]);
    }
    assert(r, 'no event within 20 s');
    assert(r.how === 'next', `ended with ${r.how}: ${JSON.stringify(r.error)}`);
    assert(r.seen[0].data.events.type === 'marketplace.profile_updated', JSON.stringify(r.seen));
    sub.dispose();
    await c.dispose();
  },

  'client: a validation error arrives as an error message, not next': async () => {
    // One socket for all of them (a lazy client would close it between operations).
    const { c, closes, connections } = client({ lazyCloseTimeout: 60_000 });
    for (const query of ['{ nope }', 'subscription { events(types: 5) { type } }', '{']) {
      const { done } = run(c, { query });
      const r = await within(WAIT_MS, query, done);
      assert(r.how === 'error', `${query}: ended with ${r.how}: ${JSON.stringify(r.seen)}`);
      assert(Array.isArray(r.error), `${query}: not a list of GraphQL errors: ${r.error}`);
      assert(r.seen.length === 0, `${query}: next before the error: ${JSON.stringify(r.seen)}`);
      const code = r.error[0]?.extensions?.code;
      assert(
        code === 'GRAPHQL_VALIDATION_FAILED' || code === 'GRAPHQL_PARSE_FAILED',
        `${query}: ${JSON.stringify(r.error)}`,
      );
    }
    // The socket stays open: the same client still runs operations.
    const { done } = run(c, { query: '{ __typename }' });
    const r = await within(WAIT_MS, 'after errors', done);
    assert(r.how === 'complete' && r.seen[0].data.__typename === 'Query', JSON.stringify(r));
    assert(closes.length === 0 && connections.length === 1, `${connections.length} sockets, closed: ${closes.map((e) => e.code)}`);
    await c.dispose();
  },

  'client: refused credentials close with 4403 Forbidden': async () => {
    const { c, closes } = client({ connectionParams: { Authorization: 'Bearer not-a-token' } });
    const { done } = run(c, { query: '{ __typename }' });
    const r = await within(WAIT_MS, 'refused init', done);
    assert(r.how === 'error' && r.error?.code === 4403, `ended with ${r.how} ${r.error?.code ?? ''}`);
    assert(closes[0]?.code === 4403 && closes[0].reason.startsWith('Forbidden'), `closes: ${closes.map((e) => `${e.code} ${e.reason}`)}`);
    await c.dispose();
  },

  'client: a duplicate operation id closes with 4409': async () => {
    const { c, closes } = client({ generateID: () => 'twice' });
    const first = run(c, { query: SUBSCRIPTION });
    const second = run(c, { query: SUBSCRIPTION });
    const [a, b] = await within(WAIT_MS, 'duplicate id', Promise.all([first.done, second.done]));
    assert(a.how === 'error' && b.how === 'error', `ended with ${a.how} and ${b.how}`);
    assert(closes[0]?.code === 4409, `closes: ${closes.map((e) => e.code)}`);
    assert(closes[0].reason === 'Subscriber for twice already exists', closes[0].reason);
    await c.dispose();
  },

  'raw: subscribe before connection_init closes with 4401 Unauthorized': async () => {
    const s = raw();
    await s.opened;
    s.send({ id: '1', type: 'subscribe', payload: { query: '{ __typename }' } });
    await closedWith(s, 4401, 'Unauthorized', 'early subscribe');
    assert(!s.messages.some((m) => m.type === 'next'), JSON.stringify(s.messages));
  },

  'raw: refused credentials close with 4403 Forbidden, without an ack': async () => {
    const s = raw();
    await s.opened;
    s.send({ type: 'connection_init', payload: { Authorization: 'Bearer not-a-token' } });
    await closedWith(s, 4403, 'Forbidden', 'refused init');
    assert(!s.messages.some((m) => m.type === 'connection_ack'), JSON.stringify(s.messages));
  },

  'raw: a second connection_init closes with 4429': async () => {
    const s = raw();
    await s.opened;
    s.send({ type: 'connection_init', payload: AUTH });
    await s.waitFor((m) => m.type === 'connection_ack', 'ack');
    s.send({ type: 'connection_init', payload: AUTH });
    await closedWith(s, 4429, 'Too many initialisation requests', 'second init');
  },

  'raw: a duplicate id closes with 4409; a completed id may be used again': async () => {
    const s = raw();
    await s.opened;
    s.send({ type: 'connection_init', payload: AUTH });
    await s.waitFor((m) => m.type === 'connection_ack', 'ack');
    s.send({ id: 'a', type: 'subscribe', payload: { query: SUBSCRIPTION } });
    s.send({ id: 'a', type: 'complete' });
    s.send({ id: 'a', type: 'subscribe', payload: { query: SUBSCRIPTION } });
    // The probe answers only after everything before it was handled.
    s.send({ id: 'probe', type: 'subscribe', payload: { query: '{ __typename }' } });
    await s.waitFor((m) => m.id === 'probe' && m.type === 'complete', 'probe');
    s.send({ id: 'a', type: 'subscribe', payload: { query: SUBSCRIPTION } });
    await closedWith(s, 4409, 'Subscriber for a already exists', 'duplicate id');
  },

  'raw: an invalid message closes with 4400': async () => {
    for (const message of ['not json', { type: 'nonsense' }, { type: 'subscribe', id: 'x' }]) {
      const s = raw();
      await s.opened;
      s.send({ type: 'connection_init', payload: AUTH });
      await s.waitFor((m) => m.type === 'connection_ack', 'ack');
      s.send(message);
      await closedWith(s, 4400, '', `invalid message ${JSON.stringify(message)}`);
    }
  },

  'raw: ping is answered with pong, before and after connection_init': async () => {
    const s = raw();
    await s.opened;
    s.send({ type: 'ping', payload: { n: 1 } });
    const pong = await s.waitFor((m) => m.type === 'pong', 'pong');
    assert(pong.payload?.n === 1, JSON.stringify(pong));
    s.send({ type: 'connection_init', payload: AUTH });
    await s.waitFor((m) => m.type === 'connection_ack', 'ack');
    s.send({ type: 'ping' });
    await s.waitFor((m, i) => m.type === 'pong' && m !== pong, 'second pong');
    s.close();
  },
};

let failed = 0;
for (const [name, check] of Object.entries(checks)) {
  try {
    await check();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e?.message ?? e}`);
  }
}
console.log(`graphql-transport-ws ${Object.keys(checks).length - failed}/${Object.keys(checks).length}`);
process.exit(failed ? 1 : 0);
