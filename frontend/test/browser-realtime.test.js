// Real-browser tests of the socket.io server: headless Chromium (system package, driven by
// playwright-core) loads a page from ANOTHER origin than the API, which loads the API's
// /socket.io/socket.io.js and connects cross-origin, as Chirp's page does in production.
//
// Run: CHIRP_BIN=/path/to/chirp node --test test/browser-realtime.test.js
// Needs Chromium at /usr/bin/chromium (apt-get install -y chromium) or CHROMIUM_PATH.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startServer, postTweet } from './support/server.js';
import { launchBrowser, startPageServer, openPage, NEW_TWEET, chromiumPath } from './support/browser.js';

// Without Chromium these tests are skipped with the reason, except where CHIRP_REQUIRE_BROWSER
// is set (CI), where a missing browser fails them.
const noBrowser = !existsSync(chromiumPath) && !process.env.CHIRP_REQUIRE_BROWSER &&
  `Chromium not found at ${chromiumPath}: apt-get install chromium (or set CHROMIUM_PATH) to run the browser tests`;
const test = (name, opts, fn) => nodeTest(name, { ...opts, skip: noBrowser }, fn);

/** @type {import('playwright-core').Browser} */
let browser;
let pages;

before(async () => {
  if (noBrowser) return;
  browser = await launchBrowser();
  pages = await startPageServer();
});

after(async () => {
  await pages?.close();
  await browser?.close();
});

/**
 * setup gives a test its own cleanup list, run last-in first-out after the test (pages close
 * before the server they talk to stops), and helpers that register there.
 */
function setup(t) {
  const cleanups = [];
  t.after(async () => {
    const errors = [];
    while (cleanups.length) await cleanups.pop()().catch((err) => errors.push(err));
    if (errors.length) throw errors[0];
  });
  return {
    async server(env = {}) {
      const s = await startServer({ env });
      cleanups.push(async () => {
        const res = await s.stop();
        assert.equal(res.code, 0, `server did not exit cleanly: ${JSON.stringify(res)}\n${socketLog(s)}`);
        assert.doesNotMatch(s.logs(), /level=ERROR|panic/, 'server logged an error or a panic');
      });
      return s;
    },
    async page(server, mode, name, extra) {
      const p = await openPage(browser, pages.url(server.url, mode, { name, ...extra }), { name });
      cleanups.push(() => p.close());
      return p;
    },
  };
}

/** socketLog is the server's log lines about /socket.io/ and sockets (for failure messages). */
function socketLog(server) {
  return server.logs().split('\n').filter((l) => /socket/.test(l)).slice(-60).join('\n');
}

function assertNoProblems(p, server) {
  assert.deepEqual(p.problems(), [], `${p.name} saw console errors or failed /socket.io/ requests\n${socketLog(server)}`);
}

/** assertNoSocketErrors checks the server's own request log: no /socket.io/ answer >= 400. */
function assertNoSocketErrors(server) {
  const bad = server.logs().split('\n').filter((l) => /path=\/socket\.io\/\S* status=[45]\d\d/.test(l));
  assert.deepEqual(bad, [], 'the server answered /socket.io/ requests with errors');
}

const MODES = ['polling', 'websocket', 'default'];
/** The transport a page in each mode must end up on. */
const FINAL_TRANSPORT = { polling: 'polling', websocket: 'websocket', default: 'websocket' };

for (const mode of MODES) {
  test(`${mode} mode: B gets A's ${NEW_TWEET} (A does not), and a POST reaches both`, { timeout: 60_000 }, async (t) => {
    const { server, page } = setup(t);
    const api = await server();
    const a = await page(api, mode, 'A');
    const b = await page(api, mode, 'B');
    for (const p of [a, b]) {
      await p.waitFor((s) => s.connects >= 1, 'connect', 5_000);
      // The final transport: the default mode must really have upgraded to websocket.
      const want = FINAL_TRANSPORT[mode];
      await p.waitFor(new Function('s', `return s.transport === ${JSON.stringify(want)} && !s.upgrading`),
        `transport ${want}`, 5_000);
    }

    await a.page.evaluate((name) => window.socket.emit(name, { content: 'from A' }), NEW_TWEET);
    await b.waitFor((s) => s.received.length >= 1, `B's ${NEW_TWEET} from A`, 5_000);

    // The POST's event reaches A after anything queued for A before it (each connection has one
    // FIFO writer), so if A had been sent its own newTweet it would be in A's list first.
    await postTweet(api.url, 'hello from the browser test', 'tester');
    await a.waitFor((s) => s.received.length >= 1, `A's ${NEW_TWEET} from the POST`, 5_000);
    await b.waitFor((s) => s.received.length >= 2, `B's ${NEW_TWEET} from the POST`, 5_000);

    const [sa, sb] = [await a.state(), await b.state()];
    assert.deepEqual(sa.received, [true], 'A: only the POST\'s newTweet (never its own), as true');
    assert.deepEqual(sb.received, [true, true], 'B: A\'s newTweet and the POST\'s, each as true');
    for (const [p, s] of [[a, sa], [b, sb]]) {
      assert.equal(s.connects, 1, `${p.name} connected once`);
      assert.deepEqual(s.connectErrors, [], `${p.name} connect errors`);
      assert.equal(s.transport, FINAL_TRANSPORT[mode], `${p.name} transport`);
      assertNoProblems(p, api);
    }
    assertNoSocketErrors(api);
  });
}

test(`default mode: 20 fresh page loads emit ${NEW_TWEET} on their first connect, none is lost`, { timeout: 150_000 }, async (t) => {
  const LOADS = 20;
  // A server that loses every emit would make this take LOADS × 5 s; after this many losses
  // the verdict is clear, so the loop stops.
  const ENOUGH_LOSSES = 5;
  const { server, page } = setup(t);
  const api = await server();
  const b = await page(api, 'default', 'B (listener)');
  await b.waitFor((s) => s.connects >= 1 && s.transport === 'websocket' && !s.upgrading, 'B connected and upgraded', 5_000);

  const losses = [];
  const notUpgraded = [];
  const ownEchoes = [];
  const problems = [];
  const emitTransports = {};
  const started = Date.now();
  let loads = 0;
  for (let i = 0; i < LOADS && losses.length < ENOUGH_LOSSES; i++, loads++) {
    const before = (await b.state()).received.length;
    const a = await openPage(browser, pages.url(api.url, 'default', { name: `A${i}`, emitOnConnect: '1' }), { name: `A${i}` });
    try {
      await a.waitFor((s) => s.firstEmit !== null, 'first connect (and its emit)', 5_000);
      try {
        await b.waitFor(new Function('s', `return s.received.length > ${before}`), `B's newTweet from A${i}`, 5_000);
      } catch (err) {
        losses.push({ load: i, a: await a.state().catch((e) => e.message), problems: a.problems() });
      }
      try {
        await a.waitFor((s) => s.transport === 'websocket' && !s.upgrading, 'upgrade to websocket', 5_000);
      } catch (err) {
        notUpgraded.push({ load: i, a: await a.state().catch((e) => e.message) });
      }
      const sa = await a.state();
      const key = `${sa.firstEmit.transport}${sa.firstEmit.upgrading ? ' (upgrading)' : ''}`;
      emitTransports[key] = (emitTransports[key] ?? 0) + 1;
      if (sa.received.length) ownEchoes.push({ load: i, received: sa.received });
      if (sa.connects !== 1) problems.push(`A${i}: connects=${sa.connects}`);
      problems.push(...a.problems().map((m) => `A${i}: ${m}`));
    } finally {
      await a.close();
    }
  }
  const sb = await b.state();
  t.diagnostic(`${loads} loads in ${Date.now() - started} ms; the first emit left on: ${JSON.stringify(emitTransports)}`);
  t.diagnostic(`losses ${losses.length}/${loads}, not upgraded ${notUpgraded.length}, own echoes ${ownEchoes.length}`);

  const detail = () => `\nlosses: ${JSON.stringify(losses, null, 1)}\nnot upgraded: ${JSON.stringify(notUpgraded)}\n` +
    `server log:\n${socketLog(api)}`;
  assert.equal(losses.length, 0, `${losses.length} of ${loads} first emits were lost` +
    `${loads < LOADS ? ` (stopped early, of ${LOADS} planned)` : ''}${detail()}`);
  assert.deepEqual(notUpgraded, [], `pages that stayed on polling${detail()}`);
  assert.deepEqual(ownEchoes, [], 'a page received its own newTweet');
  assert.deepEqual(problems, [], `console errors or failed /socket.io/ requests${detail()}`);
  assert.deepEqual(sb.received, Array(loads).fill(true), 'B received exactly one true per load');
  assert.equal(sb.connects, 1, 'B stayed connected');
  assertNoProblems(b, api);
  assertNoSocketErrors(api);
});

test('origin policy: a page from an origin not in CORS_ALLOWED_ORIGINS is refused with 403', { timeout: 60_000 }, async (t) => {
  const { server, page } = setup(t);
  const api = await server({ CORS_ALLOWED_ORIGINS: 'http://127.0.0.1:1' });
  const opened = await Promise.all(MODES.map((mode) => page(api, mode, `refused-${mode}`)));
  for (const p of opened) {
    // Two connect errors: the first attempt and the client's own retry about a second later
    // were both refused, so it is not just slow.
    await p.waitFor((s) => s.connectErrors.length >= 2, 'two connect errors', 8_000);
  }
  for (const [i, p] of opened.entries()) {
    const mode = MODES[i];
    const s = await p.state();
    assert.equal(s.connects, 0, `${p.name} must not connect`);
    assert.equal(s.state, 'connect_error', `${p.name} state`);
    if (mode === 'websocket') {
      assert.ok(p.consoleErrors.some((m) => /WebSocket connection to .*\/socket\.io\/.*Unexpected response code: 403/.test(m)),
        `${p.name}: console names the 403: ${JSON.stringify(p.consoleErrors)}`);
      assert.ok(p.socketErrors.length >= 1, `${p.name}: websocket errors`);
    } else {
      assert.ok(p.badResponses.some((r) => r.status === 403 && r.method === 'GET' && /transport=polling/.test(r.url)),
        `${p.name}: the polling handshake got 403: ${JSON.stringify(p.problems())}`);
      assert.ok(p.consoleErrors.some((m) => m.includes(`from origin '${pages.origin}' has been blocked by CORS policy`)),
        `${p.name}: console shows the CORS block: ${JSON.stringify(p.consoleErrors)}`);
    }
  }
  const log = api.logs();
  assert.match(log, /msg=request method=GET path=\/socket\.io\/ status=403/, 'server log shows the 403s');
  assert.doesNotMatch(log, /socket connected/, 'no socket connected on the server');
  assert.doesNotMatch(log, /path=\/socket\.io\/ status=(200|101)/, 'no /socket.io/ request succeeded');
});

test('origin policy: a page whose exact origin is listed connects in all three modes', { timeout: 60_000 }, async (t) => {
  const { server, page } = setup(t);
  const api = await server({ CORS_ALLOWED_ORIGINS: `http://127.0.0.1:1,${pages.origin}` });
  const opened = await Promise.all(MODES.map((mode) => page(api, mode, `allowed-${mode}`)));
  for (const [i, p] of opened.entries()) {
    const want = FINAL_TRANSPORT[MODES[i]];
    await p.waitFor(new Function('s', `return s.connects >= 1 && s.transport === ${JSON.stringify(want)} && !s.upgrading`),
      `connect on ${want}`, 5_000);
  }
  await postTweet(api.url, 'hello, listed origin', 'tester');
  for (const p of opened) {
    await p.waitFor((s) => s.received.length >= 1, `${NEW_TWEET} from the POST`, 5_000);
    const s = await p.state();
    assert.deepEqual(s.received, [true], `${p.name} received`);
    assert.equal(s.connects, 1, `${p.name} connects`);
    assertNoProblems(p, api);
  }
  assertNoSocketErrors(api);
});
