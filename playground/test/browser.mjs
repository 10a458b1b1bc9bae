#!/usr/bin/env node
// Browser test for the GraphQL playground, against a running server with demo data.
//
//   node playground/test/browser.mjs http://127.0.0.1:8080
//
// Opens <base-url>/playground in headless Chromium and waits until the docs explorer
// lists the Query type (introspection worked). Then it clicks through every example
// tab in the order shown and runs it as it stands (no editing: the page logs in as the
// tab says and fills the variables from earlier answers), and checks each answer in
// the response pane. Afterwards it logs out, pastes a token and runs Me with it.
//
// It fails (exit 1, with the reasons) on: any /graphql answer with an HTTP error or a
// GraphQL `errors` array (HTTP or WebSocket), a tab whose variables still need earlier
// answers, a request or WebSocket to another host, a console error, an uncaught
// exception. Env: CHROMIUM (browser binary, default /usr/bin/chromium), SCREENSHOT
// (optional PNG path: the page after the docs loaded), SCREENSHOT_END (after the tour).
import { chromium } from 'playwright-core';
import { STEPS, isPlaceholder } from '../src/tour.js';

const STEP_TIMEOUT_MS = 20_000;
const OVERALL_TIMEOUT_MS = 240_000;

function fail(reason) {
  console.error(`playground browser test: FAILED: ${reason}`);
  process.exit(1);
}

const baseArg = process.argv[2];
if (!baseArg) fail('usage: node playground/test/browser.mjs <base-url>  (e.g. http://127.0.0.1:8080)');
let base;
try {
  base = new URL(baseArg);
} catch {
  fail(`not a URL: ${baseArg}`);
}
if (!/^https?:$/.test(base.protocol)) fail(`base URL must be http(s): ${baseArg}`);
const pageUrl = new URL('/playground', base).href;
const graphqlUrl = new URL('/graphql', base).href;

const watchdog = setTimeout(() => fail(`gave up after ${OVERALL_TIMEOUT_MS / 1000} s`), OVERALL_TIMEOUT_MS);
watchdog.unref();

const problems = []; // things seen by event handlers, reported at the end (or at once)
const log = []; // requests and frames, for the failure report

// Same host means same hostname and port; ws(s) counts like http(s).
function isForeign(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return true;
  }
  if (['data:', 'blob:', 'about:'].includes(u.protocol)) return false;
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) return true;
  return u.host !== base.host;
}

let browser;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
} catch (err) {
  fail(`could not launch Chromium (${process.env.CHROMIUM || '/usr/bin/chromium'}): ${err.message.split('\n')[0]}`);
}

async function finish(code, message) {
  try {
    await browser.close();
  } catch {
    /* ignore */
  }
  if (code === 0) {
    console.log(message);
    process.exit(0);
  }
  const tail = log.slice(-40).join('\n  ');
  fail(`${message}${problems.length ? `\nproblems:\n  ${problems.join('\n  ')}` : ''}\nlast requests:\n  ${tail}`);
}

/** A GraphQL answer's problem, or null. */
function answerProblem(json) {
  if (!json || typeof json !== 'object') return 'not a JSON object';
  if (Array.isArray(json.errors) && json.errors.length) {
    return `errors: ${json.errors.map((e) => `${e.message}${e.extensions && e.extensions.code ? ` [${e.extensions.code}]` : ''}`).join('; ')}`;
  }
  if (!('data' in json) || json.data === null) return 'no data';
  return null;
}

/** POSTs to the server from Node (not the page): for the token and the event below. */
async function gql(query, variables, token) {
  const res = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const json = await res.json();
  const problem = answerProblem(json);
  if (problem) throw new Error(`${query.slice(0, 60)}…: ${problem}`);
  return json.data;
}

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();

  // Every answer of /graphql, by operation name, for the tab runs to wait on.
  const answers = []; // { op, json, auth }
  const waiters = new Set();
  function noteAnswer(entry) {
    answers.push(entry);
    for (const w of waiters) w(entry);
  }
  function nextAnswer(op, timeout = STEP_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no answer for ${op} within ${timeout / 1000} s`));
      }, timeout);
      function check(entry) {
        if (entry.op !== op) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(entry);
      }
      waiters.add(check);
    });
  }

  page.on('request', (req) => {
    const url = req.url();
    log.push(`${req.method()} ${url.length > 120 ? `${url.slice(0, 120)}…` : url}`);
    if (isForeign(url)) problems.push(`request to another host: ${req.method()} ${url}`);
  });
  page.on('response', async (res) => {
    const req = res.request();
    if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${req.method()} ${res.url()}`);
    if (req.method() !== 'POST' || new URL(res.url()).pathname !== '/graphql') return;
    let body = {};
    try {
      body = req.postDataJSON() || {};
    } catch {
      /* not JSON */
    }
    const op = body.operationName || '(anonymous)';
    let json = null;
    try {
      json = await res.json();
    } catch {
      problems.push(`${op}: the answer is not JSON`);
    }
    const problem = answerProblem(json);
    log.push(`  -> ${op}: ${problem || 'ok'}`);
    if (problem) problems.push(`${op} (HTTP): ${problem}`);
    noteAnswer({ op, json, auth: req.headers().authorization || null, transport: 'http', body });
  });
  page.on('websocket', (ws) => {
    log.push(`WEBSOCKET ${ws.url()}`);
    if (isForeign(ws.url())) problems.push(`websocket to another host: ${ws.url()}`);
    let auth = null;
    const ops = new Map(); // subscription id -> operation name
    ws.on('framesent', (frame) => {
      let msg;
      try {
        msg = JSON.parse(frame.payload);
      } catch {
        return;
      }
      if (msg.type === 'connection_init') {
        const payload = msg.payload || {};
        auth = payload.Authorization || payload.authorization || null;
      }
      if (msg.type === 'subscribe') ops.set(msg.id, msg.payload && msg.payload.operationName);
    });
    ws.on('framereceived', (frame) => {
      let msg;
      try {
        msg = JSON.parse(frame.payload);
      } catch {
        return;
      }
      const op = ops.get(msg.id) || '(subscription)';
      if (msg.type === 'next') {
        const problem = answerProblem(msg.payload);
        log.push(`  -> ${op} (ws): ${problem || 'ok'}`);
        if (problem) problems.push(`${op} (WebSocket): ${problem}`);
        noteAnswer({ op, json: msg.payload, auth, transport: 'ws' });
      } else if (msg.type === 'error') {
        problems.push(`${op} (WebSocket): error ${JSON.stringify(msg.payload)}`);
      }
    });
    ws.on('socketerror', (err) => problems.push(`websocket error: ${err}`));
  });
  page.on('requestfailed', (req) => {
    problems.push(`request failed: ${req.method()} ${req.url()} (${req.failure()?.errorText ?? 'unknown'})`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      const loc = msg.location();
      problems.push(`console error: ${msg.text()}${loc && loc.url ? ` (at ${loc.url}:${loc.lineNumber})` : ''}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`uncaught exception in page: ${err.message}`));

  let resp;
  try {
    resp = await page.goto(pageUrl, { waitUntil: 'load', timeout: 30_000 });
  } catch (err) {
    await finish(1, `could not open ${pageUrl}: ${err.message.split('\n')[0]}`);
  }
  if (!resp) await finish(1, `no response for ${pageUrl}`);
  if (resp.status() !== 200) await finish(1, `GET ${pageUrl} answered HTTP ${resp.status()}`);
  const config = await page.evaluate(() => JSON.parse(document.getElementById('ils-config')?.textContent || '{}'));
  const demoLogins = Array.isArray(config.demoLogins) ? config.demoLogins : [];
  if (!demoLogins.length) await finish(1, 'the page has no demo logins in #ils-config (is the server seeded, in development?)');

  // The docs explorer lists the schema's Query type: introspection worked.
  const docsQuery = page.locator('.graphiql-doc-explorer .graphiql-doc-explorer-type-name', { hasText: /^Query$/ });
  try {
    await page.waitForSelector('.graphiql-sidebar', { timeout: 15_000 });
    if (!(await page.locator('.graphiql-doc-explorer').count())) {
      await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    }
    await docsQuery.first().waitFor({ state: 'visible', timeout: 15_000 });
  } catch {
    const shown = await page.locator('.graphiql-doc-explorer').innerText().catch(() => '(no docs panel)');
    await finish(1, `the docs explorer did not list Query within 15 s; it shows: ${JSON.stringify(shown.slice(0, 300))}`);
  }
  if (problems.length) await finish(1, 'problems while loading the page');
  if (process.env.SCREENSHOT) {
    await page.screenshot({ path: process.env.SCREENSHOT });
    console.log(`screenshot saved to ${process.env.SCREENSHOT}`);
  }

  // The example tabs are the tour's steps, in order.
  const tabs = page.locator('.graphiql-session-header .graphiql-tab');
  const titles = (await tabs.locator('.graphiql-tab-button').allInnerTexts()).map((t) => t.trim());
  const expected = STEPS.map((s) => s.op);
  if (JSON.stringify(titles) !== JSON.stringify(expected)) {
    await finish(1, `the tabs are ${JSON.stringify(titles)}; expected ${JSON.stringify(expected)}`);
  }

  // Monaco's models, by the name GraphiQL gives their URI (GraphiQL exposes Monaco as
  // __MONACO): what the query, variables and response panes show.
  const editorValue = (name) =>
    page.evaluate((suffix) => {
      const models = globalThis.__MONACO ? globalThis.__MONACO.editor.getModels() : [];
      const model = models.find((m) => m.uri.path.endsWith(suffix));
      return model ? model.getValue() : null;
    }, name);
  const QUERY = 'operation.graphql';
  const VARIABLES = 'variables.json';
  const RESPONSE = 'response.json';
  const who = () => page.locator('[data-testid="ils-who"]').innerText();

  async function openTab(i, op) {
    await tabs.nth(i).locator('.graphiql-tab-button').click();
    await page.waitForFunction(
      ({ suffix, op }) => {
        const models = globalThis.__MONACO ? globalThis.__MONACO.editor.getModels() : [];
        const model = models.find((m) => m.uri.path.endsWith(suffix));
        return !!model && new RegExp(`(query|mutation|subscription)\\s+${op}\\b`).test(model.getValue());
      },
      { suffix: QUERY, op },
      { timeout: 5_000, polling: 50 },
    );
  }

  /** The tab's variables once the page filled them; null if some still wait for answers. */
  async function filledVariables(step, timeout) {
    const until = Date.now() + timeout;
    for (;;) {
      const text = (await editorValue(VARIABLES)) || '';
      let vars = null;
      try {
        vars = text.trim() ? JSON.parse(text) : {};
      } catch {
        /* being written */
      }
      const wanted = step.variables ? Object.keys(step.variables({ runs: {} }, { origin: '', login: () => null })) : [];
      if (vars && wanted.every((k) => k in vars && !isPlaceholder(vars[k]))) return vars;
      if (Date.now() > until) return null;
      await page.waitForTimeout(100);
    }
  }

  async function run(step) {
    const answered = nextAnswer(step.op);
    const runButton = page.locator('button.graphiql-execute-button');
    await runButton.click();
    const answer = await answered;
    return answer;
  }

  /** Waits for the response pane to show an answer with data and no errors. */
  async function checkResponsePane(op) {
    const until = Date.now() + STEP_TIMEOUT_MS;
    let text = '';
    for (;;) {
      text = (await editorValue(RESPONSE)) || '';
      if (text.trim()) {
        try {
          const json = JSON.parse(text);
          const problem = answerProblem(json);
          if (problem) return `${op}: the response pane shows ${problem}`;
          return null;
        } catch {
          /* not complete yet */
        }
      }
      if (Date.now() > until) return `${op}: the response pane shows ${JSON.stringify(text.slice(0, 300))}`;
      await page.waitForTimeout(100);
    }
  }

  const brightside = demoLogins.find((l) => /brightside/.test(l.email)) || demoLogins[0];
  let signedUpEmail;
  for (let i = 0; i < STEPS.length; i++) {
    const step = STEPS[i];
    await openTab(i, step.op);
    let vars = await filledVariables(step, 3_000);
    // An answer some tab needs may come late (a webhook delivery finishing): run the
    // tab before again, as a person would, for a while.
    for (let attempt = 0; !vars && i > 0 && attempt < 15; attempt++) {
      await page.waitForTimeout(1_000);
      await openTab(i - 1, STEPS[i - 1].op);
      await run(STEPS[i - 1]);
      await openTab(i, step.op);
      vars = await filledVariables(step, 2_000);
    }
    if (!vars) {
      await finish(1, `tab ${i + 1} (${step.op}) cannot run as it stands: its variables are ${await editorValue(VARIABLES)}`);
    }

    let answer;
    if (step.live) {
      // A subscription that waits for events: make one (from Node, as Brightside) once
      // the page has subscribed, and expect it in the response pane.
      const answered = nextAnswer(step.op);
      await page.locator('button.graphiql-execute-button').click();
      await page.waitForTimeout(1_000);
      const auth = await gql(
        'mutation ($email: String!, $password: String!) { logIn(input: { email: $email, password: $password }) { accessToken } }',
        { email: brightside.email, password: brightside.password },
      );
      await gql('mutation { createApiKey(input: { name: "browser test event", role: STAFF }) { apiKey { id } } }', {}, auth.logIn.accessToken);
      try {
        answer = await answered;
      } catch (err) {
        await finish(1, `tab ${i + 1} (${step.op}): ${err.message}`);
      }
      if (!JSON.stringify(answer.json).includes('api_key.created')) {
        await finish(1, `tab ${i + 1} (${step.op}): expected an api_key.created event, got ${JSON.stringify(answer.json)}`);
      }
    } else {
      try {
        answer = await run(step);
      } catch (err) {
        await finish(1, `tab ${i + 1} (${step.op}): ${err.message}`);
      }
    }
    const shown = await checkResponsePane(step.op);
    if (shown) await finish(1, `tab ${i + 1}: ${shown}`);
    const problem = answerProblem(answer.json);
    if (problem) await finish(1, `tab ${i + 1} (${step.op}): ${problem}`);

    // The page's one token went with it, as the user the tab runs as.
    if (step.as && !(answer.auth && /^Bearer \S+$/.test(answer.auth))) {
      await finish(1, `tab ${i + 1} (${step.op}) went without the page's token (Authorization: ${answer.auth})`);
    }
    if (step.as && step.as.includes('@')) {
      const shownWho = await who();
      if (!shownWho.includes(step.as)) await finish(1, `tab ${i + 1} (${step.op}) runs as ${step.as}, but the page says: ${shownWho}`);
    }
    // SignUp only mails a token; ConfirmSignUp (its token read from the development
    // mailbox by the page) logs the page in as the new company's owner.
    if (step.op === 'SignUp') signedUpEmail = vars.email;
    if (step.op === 'ConfirmSignUp') {
      const shownWho = await who();
      if (!signedUpEmail || !shownWho.includes(signedUpEmail)) {
        await finish(1, `after ConfirmSignUp the page says: ${shownWho} (signed up: ${signedUpEmail})`);
      }
    }
    if (problems.length) await finish(1, `tab ${i + 1} (${step.op})`);
    console.log(`ok   tab ${String(i + 1).padStart(2)} ${step.op}${step.as ? ` (as ${step.as})` : ''}`);
  }

  // Log out, then paste a token: Me answers for whoever the token belongs to.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.locator('[data-testid="ils-who"]', { hasText: 'Not logged in' }).waitFor({ timeout: 5_000 });
  const supplier = demoLogins.find((l) => /northwind/.test(l.email));
  if (supplier) {
    const auth = await gql(
      'mutation ($email: String!, $password: String!) { logIn(input: { email: $email, password: $password }) { accessToken } }',
      { email: supplier.email, password: supplier.password },
    );
    await page.getByLabel('Access token for every tab').fill(auth.logIn.accessToken);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.locator('[data-testid="ils-who"]', { hasText: supplier.email }).waitFor({ timeout: 5_000 });
    const me = STEPS.findIndex((s) => s.op === 'Me');
    await openTab(me, 'Me');
    const answer = await run(STEPS[me]);
    if (!JSON.stringify(answer.json).includes(supplier.email)) {
      await finish(1, `Me with a pasted token answered ${JSON.stringify(answer.json)}`);
    }
    console.log('ok   a pasted token: Me answers for it');

    // "Run by ID": the tab goes as its documentId (the examples are published in
    // development as the list "playground"), and answers the same.
    await page.getByLabel('Run by ID').check();
    const byId = await run(STEPS[me]);
    const sentId = byId.body && byId.body.documentId;
    if (!/^sha256:[0-9a-f]{64}$/.test(sentId || '') || 'query' in (byId.body || {})) {
      await finish(1, `Me by ID sent ${JSON.stringify(byId.body)}`);
    }
    if (!JSON.stringify(byId.json).includes(supplier.email)) {
      await finish(1, `Me by ID answered ${JSON.stringify(byId.json)}`);
    }
    const shownById = await checkResponsePane('Me');
    if (shownById) await finish(1, `Me by ID: ${shownById}`);
    await page.getByLabel('Run by ID').uncheck();
    console.log(`ok   run by ID: Me went as ${sentId.slice(0, 20)}… and answered for ${supplier.email}`);
  }

  // A link in a mail names an example (`?tab=PendingApprovals`): the page opens it.
  const linked = STEPS.findIndex((x) => x.op === 'PendingApprovals');
  if (linked >= 0) {
    const url = new URL(pageUrl);
    url.searchParams.set('tab', 'PendingApprovals');
    await page.goto(url.toString(), { waitUntil: 'load', timeout: 30_000 });
    try {
      await page
        .locator('[data-testid="ils-step"]', { hasText: `Example ${linked + 1} of ${STEPS.length}` })
        .waitFor({ timeout: 15_000 });
    } catch {
      const shown = await page.locator('[data-testid="ils-step"]').innerText().catch(() => '(no step bar)');
      await finish(1, `?tab=PendingApprovals did not open that example; the step bar says ${JSON.stringify(shown)}`);
    }
    console.log('ok   ?tab=PendingApprovals opens that example (the approval mail\'s link)');
  }

  // Let late console errors or requests surface before judging.
  await page.waitForTimeout(500);
  if (process.env.SCREENSHOT_END) {
    await page.screenshot({ path: process.env.SCREENSHOT_END });
    console.log(`screenshot saved to ${process.env.SCREENSHOT_END}`);
  }
  if (problems.length) await finish(1, `${problems.length} problem(s)`);
  await finish(0, 'playground browser test: ok');
} catch (err) {
  await finish(1, `unexpected error: ${err && err.stack ? err.stack : err}`);
}
