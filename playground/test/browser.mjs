#!/usr/bin/env node
// Browser test for the GraphQL playground.
//
//   node playground/test/browser.mjs http://127.0.0.1:8080
//
// Opens <base-url>/playground in headless Chromium, runs `{ __typename }` and
// waits for `"__typename": "Query"` in the response pane. Fails if the page
// requests anything from another host, logs a console error, throws, or gets
// an HTTP error. Env: CHROMIUM (browser binary, default /usr/bin/chromium),
// SCREENSHOT (optional PNG path).
import { chromium } from 'playwright-core';

const EXPECTED = '"__typename": "Query"';
const RESPONSE_TIMEOUT_MS = 20_000;
const OVERALL_TIMEOUT_MS = 90_000;

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

const watchdog = setTimeout(() => fail(`gave up after ${OVERALL_TIMEOUT_MS / 1000} s`), OVERALL_TIMEOUT_MS);
watchdog.unref();

const problems = []; // things seen by event handlers, reported at the end
const requests = [];

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
  fail(message);
}

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();

  page.on('request', (req) => {
    const url = req.url();
    requests.push(`${req.method()} ${url.length > 120 ? `${url.slice(0, 120)}…` : url}`);
    if (isForeign(url)) problems.push(`request to another host: ${req.method()} ${url}`);
    if (req.method() === 'POST' && new URL(url).pathname === '/graphql') {
      const auth = req.headers()['authorization'];
      if (auth !== undefined && auth.includes('<')) {
        problems.push(`the placeholder Authorization header was sent: ${auth}`);
      }
    }
  });
  page.on('websocket', (ws) => {
    requests.push(`WEBSOCKET ${ws.url()}`);
    if (isForeign(ws.url())) problems.push(`websocket to another host: ${ws.url()}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.request().method()} ${res.url()}`);
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

  const querySelector = '.graphiql-query-editor .CodeMirror';
  try {
    await page.waitForSelector(querySelector, { state: 'visible', timeout: 15_000 });
  } catch {
    await finish(1, `GraphiQL did not render a query editor (${querySelector}) within 15 s${problems.length ? `; also: ${problems.join('; ')}` : ''}`);
  }

  // Replace the query: through the CodeMirror 5 instance, or by keyboard.
  const setViaCodeMirror = await page.evaluate((sel) => {
    const cm = document.querySelector(sel)?.CodeMirror;
    if (!cm) return false;
    cm.setValue('{ __typename }');
    return true;
  }, querySelector);
  if (!setViaCodeMirror) {
    await page.click(`${querySelector} .CodeMirror-lines`);
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('{ __typename ');
  }
  // GraphiQL re-parses the query (operation name, document) 100 ms after an
  // edit, debounced; running before that would send the previous tab's
  // operationName, which a real server rejects ("Unknown operation named ...").
  try {
    await page.waitForFunction(
      (sel) => {
        const cm = document.querySelector(sel)?.CodeMirror;
        if (!cm) return true; // cannot tell; the fixed pause below covers it
        const ops = cm.operations || [];
        return ops.length === 1 && !ops[0].name && !cm.operationName;
      },
      querySelector,
      { timeout: 5_000, polling: 50 },
    );
  } catch {
    await finish(1, 'GraphiQL did not take up the new query `{ __typename }` within 5 s');
  }
  await page.waitForTimeout(300);
  const queryNow = await page.evaluate(
    (sel) => document.querySelector(sel)?.CodeMirror?.getValue() ?? document.querySelector(sel)?.innerText ?? '',
    querySelector,
  );
  if (!queryNow.includes('__typename')) await finish(1, `could not set the query editor, it holds: ${JSON.stringify(queryNow)}`);

  const runButton = page.locator('button.graphiql-execute-button');
  if ((await runButton.count()) !== 1) await finish(1, 'no (single) execute button .graphiql-execute-button found');
  await runButton.click();

  try {
    await page.waitForFunction(
      (expected) => {
        const el = document.querySelector('.graphiql-response .CodeMirror');
        const text = el?.CodeMirror?.getValue() ?? el?.innerText ?? '';
        return text.includes(expected);
      },
      EXPECTED,
      { timeout: RESPONSE_TIMEOUT_MS, polling: 100 },
    );
  } catch {
    const shown = await page.evaluate(() => {
      const el = document.querySelector('.graphiql-response .CodeMirror');
      return el?.CodeMirror?.getValue() ?? el?.innerText ?? '(no response pane)';
    });
    await finish(
      1,
      `the response pane did not show ${EXPECTED} within ${RESPONSE_TIMEOUT_MS / 1000} s; it shows: ${JSON.stringify(shown.slice(0, 500))}${problems.length ? `; also: ${problems.join('; ')}` : ''}`,
    );
  }

  // Let late console errors or requests surface before judging.
  await page.waitForTimeout(500);

  if (process.env.SCREENSHOT) {
    await page.screenshot({ path: process.env.SCREENSHOT });
    console.log(`screenshot saved to ${process.env.SCREENSHOT}`);
  }

  if (problems.length) {
    await finish(1, `${problems.length} problem(s):\n  ${problems.join('\n  ')}\nrequests made:\n  ${requests.join('\n  ')}`);
  }
  await finish(0, 'playground browser test: ok');
} catch (err) {
  await finish(1, `unexpected error: ${err && err.stack ? err.stack : err}`);
}
