// How the page talks to the server. Every request carries the page's one token
// (Authorization: Bearer <token>): JSON POSTs to /graphql, and subscriptions over
// graphql-ws (the "graphql-transport-ws" subprotocol) at /graphql/ws, where the token
// goes in the connection_init payload. A tab's own Headers (if any) are added and win.
import { createClient } from 'graphql-ws';
import { Kind, parse } from 'graphql';
import { session, memory, remember } from './state.js';
import { stepOf, SIGNED_UP } from './tour.js';

const GRAPHQL_PATH = '/graphql';
const REFRESH_MARGIN_MS = 30_000;

function wsUrl() {
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${window.location.host}${GRAPHQL_PATH}/ws`;
}

/**
 * POSTs an operation; resolves to the parsed answer (or an error-shaped object). The
 * HTTP status is kept beside it (not enumerable), for a token the server refuses (401).
 */
async function post(body, headers = {}) {
  const response = await fetch(GRAPHQL_PATH, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json;q=0.9',
      ...headers,
    },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await response.text();
  let result;
  try {
    result = JSON.parse(text);
  } catch {
    result = { errors: [{ message: `HTTP ${response.status}: ${text.slice(0, 500)}` }] };
  }
  if (result && typeof result === 'object') Object.defineProperty(result, 'status', { value: response.status });
  return result;
}

function firstError(result) {
  return result && Array.isArray(result.errors) && result.errors.length ? result.errors[0].message : null;
}

const AUTH_FIELDS = `accessToken refreshToken expiresIn
  user { email firstName lastName } company { name type }`;

/** Makes a session from a session payload (logIn, confirmSignUp, refreshSession, acceptInvitation). */
function sessionFromAuth(auth, source) {
  const user = auth.user || {};
  const company = auth.company || null;
  return {
    token: auth.accessToken,
    refreshToken: auth.refreshToken || null,
    expiresAt: typeof auth.expiresIn === 'number' ? Date.now() + auth.expiresIn * 1000 : null,
    source,
    email: user.email || null,
    name: [user.firstName, user.lastName].filter(Boolean).join(' ') || null,
    company: company ? company.name : null,
    companyType: company ? company.type : null,
    platformAdmin: !company,
  };
}

/** Logs the page in with an email and password; throws with the server's message. */
export async function logIn(email, password, source = 'demo') {
  const result = await post({
    query: `mutation PlaygroundLogIn($email: String!, $password: String!) {
      logIn(input: { email: $email, password: $password }) { ${AUTH_FIELDS} } }`,
    operationName: 'PlaygroundLogIn',
    variables: { email, password },
  });
  const problem = firstError(result);
  if (problem || !result.data || !result.data.logIn) {
    throw new Error(`Could not log in as ${email}: ${problem || 'no answer'}`);
  }
  session.set(sessionFromAuth(result.data.logIn, source));
  return session.get();
}

/** Uses a pasted access token for every tab, and asks the server whose it is. */
export async function applyToken(token) {
  const clean = token.trim().replace(/^bearer\s+/i, '');
  if (!clean) return;
  session.set({ token: clean, source: 'token' });
  const result = await post(
    {
      query: `query PlaygroundWhoAmI { me { user { email firstName lastName }
        apiKey { name } company { name type } platformAdmin } }`,
      operationName: 'PlaygroundWhoAmI',
    },
    { authorization: `Bearer ${clean}` },
  );
  const me = result && result.data && result.data.me;
  const current = session.get();
  if (!current || current.token !== clean) return; // replaced meanwhile
  if (!me) {
    session.set({ ...current, problem: firstError(result) || 'the server did not accept this token' });
    return;
  }
  session.set({
    ...current,
    email: me.user ? me.user.email : null,
    name: me.user ? [me.user.firstName, me.user.lastName].filter(Boolean).join(' ') : null,
    apiKey: me.apiKey ? me.apiKey.name : null,
    company: me.company ? me.company.name : null,
    companyType: me.company ? me.company.type : null,
    platformAdmin: !!me.platformAdmin,
  });
}

/** Ends the session on the server (when the page has its refresh token) and forgets it. */
export async function logOut() {
  const current = session.get();
  session.set(null);
  if (current && current.refreshToken) {
    await post({
      query: 'mutation PlaygroundLogOut($refreshToken: String!) { logOut(input: { refreshToken: $refreshToken }) { loggedOut } }',
      operationName: 'PlaygroundLogOut',
      variables: { refreshToken: current.refreshToken },
    }).catch(() => {});
  }
}

/** Trades the refresh token for a new session; whether that worked. */
async function refresh(current) {
  const result = await post({
    query: `mutation PlaygroundRefresh($refreshToken: String!) {
      refreshSession(input: { refreshToken: $refreshToken }) { ${AUTH_FIELDS} } }`,
    operationName: 'PlaygroundRefresh',
    variables: { refreshToken: current.refreshToken },
  });
  if (session.get() !== current) return true; // replaced meanwhile
  const auth = result && result.data && result.data.refreshSession;
  session.set(auth ? sessionFromAuth(auth, current.source) : { ...current, refreshToken: null, problem: firstError(result) });
  return !!auth;
}

/** Refreshes the session shortly before (or after) its access token expires. */
async function refreshIfDue() {
  const current = session.get();
  if (!current || !current.refreshToken || !current.expiresAt) return;
  if (current.expiresAt - Date.now() > REFRESH_MARGIN_MS) return;
  await refresh(current);
}

/**
 * The server refused the page's token (401: expired, or a server restarted with fresh
 * data). Refresh it, or log in again with the demo or SignUp credentials it came from;
 * otherwise log out (a pasted token stays, marked as refused). Whether to retry.
 */
async function renew(refused, demoLogins) {
  if (session.get() !== refused) return true; // replaced meanwhile
  if (refused.refreshToken && (await refresh(refused))) return true;
  if (refused.source === 'token') {
    session.set({ ...refused, problem: 'the server refuses this token' });
    return false;
  }
  const m = memory.get();
  const known =
    demoLogins.find((l) => l.email === refused.email) ||
    (m.signedUpEmail === refused.email ? { email: m.signedUpEmail, password: m.signedUpPassword } : null);
  if (known) {
    try {
      await logIn(known.email, known.password, refused.source);
      return true;
    } catch {
      /* fall through: log out */
    }
  }
  session.set(null);
  return true;
}

/**
 * Who a step runs as: { email, password, label } when the page can log in as them,
 * else { label } only (or null for a step that runs as whoever is logged in).
 */
export function runnerOf(step, demoLogins) {
  if (!step || !step.as) return null;
  if (step.as === SIGNED_UP) {
    const m = memory.get();
    return m.signedUpEmail
      ? { email: m.signedUpEmail, password: m.signedUpPassword, label: `the company SignUp made (${m.signedUpEmail})` }
      : { label: 'the company SignUp made (run SignUp first)' };
  }
  const demo = demoLogins.find((l) => l.email === step.as);
  return demo ? { email: demo.email, password: demo.password, label: demo.label || demo.email } : { label: step.as };
}

/** Whether running the step would log the page in as someone else first. */
export function switchNeeded(step, demoLogins) {
  const runner = runnerOf(step, demoLogins);
  if (!runner || !runner.email) return false;
  const current = session.get();
  if (current && current.source === 'token') return false;
  return !current || current.email !== runner.email;
}

async function ensureRunner(step, demoLogins) {
  if (!switchNeeded(step, demoLogins)) return;
  const runner = runnerOf(step, demoLogins);
  await logIn(runner.email, runner.password, 'demo');
}

function authHeaders(tabHeaders, withToken = true) {
  const current = withToken ? session.get() : null;
  const headers = {};
  if (current && current.token) headers.Authorization = `Bearer ${current.token}`;
  if (tabHeaders && typeof tabHeaders === 'object' && !Array.isArray(tabHeaders)) {
    for (const [name, value] of Object.entries(tabHeaders)) {
      if (value === undefined || value === null) continue;
      // A tab's own Authorization or API key replaces the page's token (the server
      // refuses both at once).
      if (['authorization', 'x-api-key'].includes(name.toLowerCase())) delete headers.Authorization;
      headers[name] = String(value);
    }
  }
  return headers;
}

/**
 * The operation a request runs, read from its own text: { name, kind } or null.
 * GraphiQL's operation name can lag a moment behind a tab switch (it parses the editor
 * after a pause); a name the document does not define is replaced by its only operation.
 */
function operationOf(query, operationName) {
  let doc;
  try {
    doc = parse(query);
  } catch {
    return null;
  }
  const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const named = operationName ? ops.find((d) => d.name && d.name.value === operationName) : null;
  const op = named || (ops.length === 1 ? ops[0] : null);
  return op ? { name: op.name ? op.name.value : null, kind: op.operation } : null;
}

/** Keeps what an answer gives: a new session (logIn, confirmSignUp, ...) and the step's values. */
function observe(result, step, variables) {
  const data = result && result.data;
  if (!data || typeof data !== 'object') return;
  const auth = data.logIn || data.confirmSignUp || data.refreshSession || data.acceptInvitation;
  if (auth && auth.accessToken) session.set(sessionFromAuth(auth, 'login'));
  if (!step || (result.errors && result.errors.length)) return;
  let values = {};
  try {
    values = step.remember ? step.remember(data, variables || {}, memory.get()) || {} : {};
  } catch (err) {
    console.warn(`ILS playground: could not read the answer of ${step.op}`, err);
  }
  remember(step.op, values);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The newest token mailed to `email`, read from the development server's mailbox
 * (/dev/mail; mail goes out through a job, so it is asked a few times for up to 10 s).
 * Undefined where there is no such mailbox (production, or mail sent by SMTP): the token
 * is then in the recipient's inbox.
 */
async function mailedToken(email) {
  for (let attempt = 0; attempt < 40; attempt++) {
    let res;
    try {
      res = await fetch(`/dev/mail?to=${encodeURIComponent(email)}`);
    } catch {
      return undefined;
    }
    if (res.status === 404) return undefined;
    if (res.ok) {
      const { messages } = await res.json();
      for (const message of messages || []) {
        const lines = String(message.text).split('\n').map((l) => l.trim());
        const at = lines.findIndex((l) => l.endsWith('token:'));
        const token = at >= 0 ? lines.slice(at + 1).find((l) => l) : undefined;
        if (token) return token;
      }
    }
    await sleep(250);
  }
  return undefined;
}

/** Runs a step's `afterwards` on a successful answer and keeps what it gives. */
async function afterwards(result, step, variables) {
  const data = result && result.data;
  if (!step || !step.afterwards || !data || (result.errors && result.errors.length)) return;
  try {
    remember(null, (await step.afterwards(data, variables || {}, { mailedToken })) || {});
  } catch (err) {
    console.warn(`ILS playground: could not finish ${step.op}`, err);
  }
}

/** Lowercase hex SHA-256 of a text (the Web Crypto API). */
async function sha256Hex(text) {
  const digest = await window.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The request as sent: with "Run by ID" on, a persisted operation's ID (the SHA-256 of
 * the tab's exact text, as `documentId`) in place of the text. The schema's own
 * introspection always goes as text.
 */
async function byId(params) {
  if (!memory.get().byId || params.operationName === 'IntrospectionQuery') return params;
  const { query, ...rest } = params;
  return { ...rest, documentId: `sha256:${await sha256Hex(query)}` };
}

/** The error GraphiQL shows for a failed WebSocket. */
function wsError(err) {
  if (Array.isArray(err)) return new Error(err.map((e) => e.message).join('; '));
  if (err && typeof err === 'object' && 'code' in err && 'reason' in err) {
    return new Error(`The WebSocket closed (${err.code}${err.reason ? `: ${err.reason}` : ''})`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** GraphiQL's fetcher. `demoLogins` lets example tabs log in as the user they run as. */
export function createFetcher(demoLogins) {
  return async function fetcher(graphiqlParams, opts = {}) {
    const isIntrospection = graphiqlParams.operationName === 'IntrospectionQuery';
    const op = isIntrospection ? null : operationOf(graphiqlParams.query, graphiqlParams.operationName);
    const params = op ? { ...graphiqlParams, operationName: op.name || undefined } : graphiqlParams;
    const step = op && op.name ? stepOf(op.name) : undefined;
    if (step) await ensureRunner(step, demoLogins);
    await refreshIfDue();
    const headers = authHeaders(opts.headers);

    if (op && op.kind === 'subscription') {
      return {
        subscribe(sink) {
          const client = createClient({
            url: wsUrl(),
            connectionParams: headers,
            lazy: true,
            retryAttempts: 0,
          });
          const payload = byId({ query: params.query, variables: params.variables, operationName: params.operationName });
          let dispose = () => {};
          let stopped = false;
          payload.then((p) => {
            if (stopped) return;
            dispose = client.subscribe(p, {
              next(result) {
                observe(result, step, params.variables);
                sink.next(result);
              },
              error(err) {
                sink.error(wsError(err));
                client.dispose();
              },
              complete() {
                sink.complete();
                client.dispose();
              },
            });
          });
          return {
            unsubscribe() {
              stopped = true;
              dispose();
              client.dispose();
            },
          };
        },
      };
    }

    let result = await post(await byId(params), headers);
    const sent = session.get();
    if (result && result.status === 401 && sent && headers.Authorization === `Bearer ${sent.token}`) {
      if (await renew(sent, demoLogins)) result = await post(await byId(params), authHeaders(opts.headers));
      // The docs need the schema even while a pasted token is refused.
      else if (isIntrospection) result = await post(params, authHeaders(opts.headers, false));
    }
    observe(result, step, params.variables);
    await afterwards(result, step, params.variables);
    return result;
  };
}
