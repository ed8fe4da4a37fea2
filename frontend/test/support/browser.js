// Real-browser helpers for the realtime tests: one headless Chromium per test file (driven by
// playwright-core, using the system's Chromium: `apt-get install -y chromium`), a tiny static
// server for a test page on ANOTHER origin than the API, and helpers to open that page and wait
// for its state. Importing this module starts nothing.
import http from 'node:http';
import { chromium } from 'playwright-core';

/** Where Chromium is; CHROMIUM_PATH overrides Debian's /usr/bin/chromium. */
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** launchBrowser starts headless Chromium. Close it with browser.close(). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    timeout: 30_000,
  });
}

/** The event the page listens for and emits (the server's realtime.EventNewTweet). */
export const NEW_TWEET = 'newTweet';

// The page: loads the API's /socket.io/socket.io.js with a <script> tag and connects with
// io(api) (default options: polling, then upgrade to websocket), or with
// {transports:['polling']} / {transports:['websocket']} when ?mode= says so. Everything it sees
// is recorded on window.rt for the test to read. With ?emitOnConnect=1 it emits newTweet on its
// FIRST connect event, synchronously: the emit leaves as a polling POST while the websocket
// probe of the upgrade is under way (the moment go-socket.io's own transport refused with
// "400 payload: paused").
function pageHtml(api) {
  const attr = api.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>chirp realtime test page</title>
<script src="${attr}/socket.io/socket.io.js"></script>
</head><body>
<script>
(function () {
  var q = new URLSearchParams(location.search);
  var api = ${JSON.stringify(api).replace(/</g, '\\u003c')};
  var mode = q.get('mode') || 'default';
  var rt = window.rt = {
    mode: mode, state: 'loading', connects: 0, connectErrors: [], disconnects: [],
    received: [], firstEmit: null, transportAtConnect: null,
  };
  if (typeof io !== 'function') { rt.state = 'no-client-script'; return; }
  var socket = window.socket = mode === 'polling' ? io(api, { transports: ['polling'] })
    : mode === 'websocket' ? io(api, { transports: ['websocket'] })
    : io(api);
  rt.state = 'connecting';
  socket.on('connect', function () {
    rt.connects++;
    rt.state = 'connected';
    var engine = socket.io.engine;
    if (rt.connects === 1) {
      rt.transportAtConnect = engine.transport.name;
      if (q.get('emitOnConnect')) {
        rt.firstEmit = { transport: engine.transport.name, upgrading: !!engine.upgrading, at: Date.now() };
        socket.emit(${JSON.stringify(NEW_TWEET)}, { from: q.get('name') || 'page', first: true });
      }
    }
  });
  socket.on('connect_error', function (err) {
    rt.state = rt.connects ? rt.state : 'connect_error';
    rt.connectErrors.push(String(err && (err.message || err.description || err)));
  });
  socket.on('disconnect', function (reason) { rt.state = 'disconnected'; rt.disconnects.push(reason); });
  socket.on(${JSON.stringify(NEW_TWEET)}, function (value) { rt.received.push(value); });
})();
</script>
</body></html>
`;
}

/**
 * startPageServer serves the test page from its own port on 127.0.0.1 (so the page's origin is
 * never the API's). GET /?api=<API origin>&mode=default|polling|websocket[&emitOnConnect=1].
 */
export async function startPageServer() {
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    if (req.method !== 'GET' || u.pathname !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    let api;
    try {
      api = new URL(u.searchParams.get('api') ?? '');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('?api= must be the API origin');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(pageHtml(api.origin));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    /** url is the page's address for the API at api (e.g. server.url) in the given mode. */
    url(api, mode = 'default', extra = {}) {
      const q = new URLSearchParams({ api, mode, ...extra });
      return `${origin}/?${q}`;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * openPage opens url in a fresh browser context (its own cookies and connections, as a second
 * browser would have) and records console errors, page errors, failed /socket.io/ requests
 * (HTTP status >= 400, network failures) and websocket errors. Returns a handle; close() closes
 * the context and stops recording first, so the aborts of closing are not counted.
 */
export async function openPage(browser, url, { name = 'page' } = {}) {
  const context = await browser.newContext();
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const h = {
    name,
    context,
    page,
    consoleErrors: [],
    pageErrors: [],
    /** /socket.io/ responses with status >= 400, also those CORS then blocked: {method, url, status}. */
    badResponses: [],
    /** /socket.io/ requests that failed without a response (CORS blocks, resets): {method, url, error}. */
    failedRequests: [],
    /** websocket errors as Chromium reports them. */
    socketErrors: [],
    recording: true,
    /** problems lists every console error, page error, failed request and socket error. */
    problems() {
      return [
        ...h.consoleErrors.map((m) => `console: ${m}`),
        ...h.pageErrors.map((m) => `pageerror: ${m}`),
        ...h.badResponses.map((r) => `HTTP ${r.status}: ${r.method} ${r.url}`),
        ...h.failedRequests.map((r) => `request failed (${r.error}): ${r.method} ${r.url}`),
        ...h.socketErrors.map((m) => `websocket: ${m}`),
      ];
    },
    /** state is the page's window.rt plus the engine's current transport. */
    state() { return page.evaluate(readState); },
    /** waitFor waits (bounded) until fn(window.rt, engine) is true in the page. */
    waitFor(fn, what, timeout = 5_000) { return waitForState(h, fn, what, timeout); },
    async close() {
      h.recording = false;
      await context.close().catch(() => {});
    },
  };
  const isSocket = (u) => new URL(u).pathname.startsWith('/socket.io/');
  page.on('console', (m) => { if (h.recording && m.type() === 'error') h.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => { if (h.recording) h.pageErrors.push(String(e)); });
  const bad = (method, url, status) => {
    if (!h.recording || status < 400 || !isSocket(url)) return;
    if (h.badResponses.some((r) => r.method === method && r.url === url && r.status === status)) return;
    h.badResponses.push({ method, url, status });
  };
  page.on('response', (r) => bad(r.request().method(), r.url(), r.status()));
  // Playwright reports no 'response' for a reply the browser's CORS check rejected (a 403
  // without Access-Control-Allow-Origin, say), only 'requestfailed'; Chromium's raw network
  // events still carry its status, so they are watched too.
  // The two events come in either order, so each is matched with the other when it arrives.
  const cdp = await context.newCDPSession(page);
  const requests = new Map();
  const statuses = new Map();
  cdp.on('Network.requestWillBeSent', (e) => {
    requests.set(e.requestId, e.request);
    if (statuses.has(e.requestId)) bad(e.request.method, e.request.url, statuses.get(e.requestId));
  });
  cdp.on('Network.responseReceivedExtraInfo', (e) => {
    statuses.set(e.requestId, e.statusCode);
    const req = requests.get(e.requestId);
    if (req) bad(req.method, req.url, e.statusCode);
  });
  await cdp.send('Network.enable');
  page.on('requestfailed', (r) => {
    if (h.recording && isSocket(r.url())) {
      h.failedRequests.push({ method: r.method(), url: r.url(), error: r.failure()?.errorText });
    }
  });
  page.on('websocket', (ws) => {
    ws.on('socketerror', (e) => { if (h.recording) h.socketErrors.push(`${ws.url()}: ${e}`); });
  });
  try {
    await page.goto(url, { waitUntil: 'load', timeout: 10_000 });
  } catch (err) {
    await h.close();
    throw err;
  }
  return h;
}

// Runs in the page.
function readState() {
  const rt = window.rt;
  if (!rt) return { state: 'no-page-script' };
  const engine = window.socket && window.socket.io && window.socket.io.engine;
  return {
    ...rt,
    transport: engine && engine.transport ? engine.transport.name : null,
    upgrading: engine ? !!engine.upgrading : null,
  };
}

/**
 * waitForState polls the page (every 10 ms, at most timeout ms) until predicate(state) is true,
 * state being readState()'s object; on timeout it throws an error naming what it waited for,
 * with the page's last state and its problems.
 */
async function waitForState(h, predicate, what, timeout) {
  // A string is evaluated in the page as an expression: the predicate applied to readState().
  const expression = `(${predicate.toString()})((${readState.toString()})())`;
  try {
    await h.page.waitForFunction(expression, undefined, { timeout, polling: 10 });
  } catch (err) {
    let state;
    try { state = await h.state(); } catch (e) { state = `unreadable: ${e.message}`; }
    const e = new Error(`${h.name}: ${what} did not happen within ${timeout} ms.\n` +
      `state: ${JSON.stringify(state)}\nproblems: ${JSON.stringify(h.problems(), null, 1)}\n` +
      `(${err.message.split('\n')[0]})`);
    e.state = state;
    throw e;
  }
}
