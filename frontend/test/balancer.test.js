// Several backends behind a real load balancer: two real `chirp` processes sharing one
// PostgreSQL database, with Debian's nginx in front of them configured by the template compose
// ships, rendered and run by deploy/balancer/run-balanced.sh as `make run-balanced` does (see
// support/balancer.js).
// The real socket.io 2.x client from npm and the real page in Chromium connect through nginx.
//
// Every loopback client reaches nginx from 127.0.0.1, and nginx sends one client address to one
// backend: so every client of a test that goes through nginx lands on the same process (the
// test finds which), and a test that needs a client on the other process connects straight to
// it. Events posted on one process reach the other's clients through the database's event bus
// (EVENT_BUS=postgres, the default on PostgreSQL).
//
// Run: CHIRP_BIN=../backend/bin/chirp TEST_DATABASE_URL=postgres://… node --test test/balancer.test.js
// Needs nginx (apt-get install nginx), PostgreSQL, and Chromium for the page test.
import { describe, test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { startServer, postTweet } from './support/server.js';
import { createPostgresDatabase, postgresSkip } from './support/postgres.js';
import { startBalancer, nginxSkip, request } from './support/balancer.js';
import { connect, recorder } from './support/sockets.js';
import { until, sleep } from './support/wait.js';
import { launchBrowser, chromiumPath } from './support/browser.js';
import { startWeb, openChirp, apiRequest } from './support/page.js';

const skip = postgresSkip || nginxSkip;
const noBrowser = skip || (!existsSync(chromiumPath) && !process.env.CHIRP_REQUIRE_BROWSER &&
  `Chromium not found at ${chromiumPath}: apt-get install chromium (or set CHROMIUM_PATH) to run the browser tests`);
const test = (name, opts, fn) => nodeTest(name, { skip, ...opts }, fn);

/** @type {import('playwright-core').Browser} */
let browser;
before(async () => {
  if (!noBrowser) browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/**
 * cluster starts a test's world: a fresh database, two backends on it (one after the other:
 * each migrates at start) trusting X-Forwarded-For from 127.0.0.1 only, with env's variables
 * besides, and nginx in front of both. Everything stops after the test, last started first; each backend must have exited
 * cleanly (also one the test stopped itself) and logged no error.
 */
async function cluster(t, tag, env = {}) {
  const cleanups = [];
  t.after(async () => {
    const errors = [];
    while (cleanups.length) await cleanups.pop()().catch((err) => errors.push(err));
    if (errors.length) throw errors[0];
  });
  const db = await createPostgresDatabase(tag);
  cleanups.push(() => db.drop());
  const backends = [];
  for (const name of ['A', 'B']) {
    const s = await startServer({ env: { DATABASE_URL: db.url, TRUSTED_PROXIES: '127.0.0.1', ...env } });
    s.name = name;
    cleanups.push(async () => {
      const res = await s.stop();
      assert.equal(res.code, 0, `backend ${name} did not exit cleanly: ${JSON.stringify(res)}\n${tail(s.logs())}`);
      assert.doesNotMatch(s.logs(), /level=ERROR|panic/, `backend ${name} logged an error or a panic:\n${tail(s.logs())}`);
    });
    backends.push(s);
  }
  const lb = await startBalancer(backends.map((s) => s.url));
  cleanups.push(async () => { await lb.stop(); });
  return {
    db,
    backends,
    lb,
    /** defer registers a cleanup (run before the servers stop). */
    defer(f) { cleanups.push(f); },
    /** socket connects a socket.io client (closed after the test). */
    async socket(url, options) {
      const s = await connect(url, options);
      cleanups.push(async () => { s.close(); });
      return s;
    },
  };
}

function tail(logs, n = 40) {
  return logs.split('\n').slice(-n).join('\n');
}

/**
 * servedBy sends one request through the balancer from localAddress (with forged forwarding
 * headers) and finds, by its request id in the backends' access logs, which backend answered
 * and the log record it wrote.
 */
async function servedBy(c, { localAddress = '127.0.0.1', headers = {} } = {}) {
  const id = `probe-${randomBytes(8).toString('hex')}`;
  const res = await request(`${c.lb.url}/api/tweets?limit=1`, { localAddress, headers: { 'x-request-id': id, ...headers } });
  assert.equal(res.status, 200, `GET through the balancer: ${res.status} ${res.body}\n${c.lb.logs()}`);
  let found;
  await until(() => {
    found = c.backends.flatMap((s) => s.logs().split('\n').filter((l) => l.includes(`request_id=${id} `) || l.endsWith(`request_id=${id}`))
      .map((line) => ({ server: s, line })));
    return found.length > 0;
  }, `the access record of ${id}`);
  assert.equal(found.length, 1, `one backend logged ${id}: ${JSON.stringify(found.map((f) => f.line))}`);
  return found[0];
}

/** connections asks each backend how many sockets it holds. */
async function connections(c) {
  return Promise.all(c.backends.map(async (s) => (await (await fetch(`${s.url}/healthz`)).json()).connections));
}

/**
 * stuck is the backend every 127.0.0.1 client of the balancer lands on, and the other one,
 * checked to be where sockets connected through the balancer are (want: how many).
 */
async function stuck(c, want) {
  const { server } = await servedBy(c);
  const other = c.backends.find((s) => s !== server);
  await until(async () => {
    const n = await connections(c);
    return n[c.backends.indexOf(server)] === want && n[c.backends.indexOf(other)] === 0;
  }, `${want} sockets on backend ${server.name} (plain requests and sockets from one address land on one backend)`, 5_000)
    .catch(async (err) => { throw new Error(`${err.message}: connections ${JSON.stringify(await connections(c))}`); });
  return { server, other };
}

/** reached waits (bounded) until list has n entries; false if it did not within ms. */
async function reached(list, n, ms = 5_000) {
  try {
    await until(() => list.length >= n, `${n} events`, ms);
    return true;
  } catch {
    return false;
  }
}

// node:test runs a file's tests one after another unless told otherwise: these each have
// their own world, so they run side by side and the file takes about as long as the longest.
describe('several backends behind nginx', { concurrency: true }, () => {
  test('a polling-only client stays connected through nginx for 60 s (one session, one backend) and hears tweets POSTed to either process', { timeout: 120_000 }, async (t) => {
    const c = await cluster(t, 'lb_poll');
    const client = await c.socket(c.lb.url, { mode: 'polling' });
    const got = recorder(client);
    const engineId = client.io.engine.id;
    const disconnects = [];
    const attempts = [];
    client.on('disconnect', (reason) => disconnects.push(reason));
    client.on('reconnect_attempt', (n) => attempts.push(n));
    const { server, other } = await stuck(c, 1);

    // Six rounds of 10 s, each a POST straight to one process, alternating: two heartbeats
    // (PING_INTERVAL 25 s) happen in between, each a long-poll held by nginx.
    const rounds = [];
    const started = Date.now();
    for (let i = 0; i < 6; i++) {
      const target = i % 2 === 0 ? server : other;
      const before = got.newTweet.length;
      await postTweet(target.url, `round ${i} through ${target.name}`);
      rounds.push({ round: i, postedTo: target === server ? 'its own backend' : 'the other backend', heard: await reached(got.newTweet, before + 1) });
      const next = started + (i + 1) * 10_000;
      if (Date.now() < next) await sleep(next - Date.now());
    }
    t.diagnostic(`rounds: ${JSON.stringify(rounds)}`);

    // The connection first: it held for the whole minute on one session, on one backend.
    assert.ok(Date.now() - started >= 60_000);
    assert.deepEqual(disconnects, [], 'the client was never disconnected');
    assert.deepEqual(attempts, [], 'the client never tried to reconnect');
    assert.equal(client.connected, true);
    assert.equal(client.io.engine.id, engineId, 'the same Engine.IO session throughout');
    assert.equal(client.io.engine.transport.name, 'polling');
    assert.deepEqual(await connections(c), c.backends.map((s) => (s === server ? 1 : 0)), 'the session stayed on one backend');
    assert.doesNotMatch(c.lb.logs(), /upstream timed out|prematurely closed/, 'nginx cut a long-poll');

    // Then the events: one newTweet per POST, whichever process took it.
    await sleep(500);
    assert.deepEqual(rounds.filter((r) => !r.heard), [], 'rounds whose POST the client did not hear');
    assert.equal(got.newTweet.length, 6, 'each newTweet exactly once');
  });

  test('websocket clients through nginx (websocket-only, and polling upgraded to websocket) hear creates, edits and deletes made on either process, each once', { timeout: 60_000 }, async (t) => {
    const c = await cluster(t, 'lb_ws');
    const ws = await c.socket(c.lb.url, { mode: 'websocket' });
    const upgraded = await c.socket(c.lb.url, { mode: 'default' });
    await until(() => upgraded.io.engine.transport.name === 'websocket' && !upgraded.io.engine.upgrading, 'the upgrade to websocket through nginx');
    const clients = [['websocket', ws, recorder(ws)], ['upgraded', upgraded, recorder(upgraded)]];
    const { server, other } = await stuck(c, 2);

    const expect = { newTweet: 0, tweetUpdated: 0, tweetDeleted: 0 };
    const heardBy = async (event, what) => {
      expect[event]++;
      for (const [name, , got] of clients) {
        assert.ok(await reached(got[event], expect[event]), `the ${name} client did not hear ${event} for ${what}`);
      }
    };
    // On the process the clients are connected to: no bus needed.
    const own = await postTweet(server.url, 'on its own backend');
    await heardBy('newTweet', `a POST to backend ${server.name} (its own)`);
    assert.equal((await apiRequest(server.url, 'PATCH', `/api/tweets/${own.id}`, { body: { content: 'edited' }, token: own.edit_token })).status, 200);
    await heardBy('tweetUpdated', 'an edit on its own backend');

    // On the other process: through the database's bus.
    const far = await postTweet(other.url, 'on the other backend');
    await heardBy('newTweet', `a POST to backend ${other.name} (the other)`);
    assert.equal((await apiRequest(other.url, 'PATCH', `/api/tweets/${far.id}`, { body: { content: 'edited there' }, token: far.edit_token })).status, 200);
    await heardBy('tweetUpdated', 'an edit on the other backend');
    assert.equal((await apiRequest(other.url, 'DELETE', `/api/tweets/${own.id}`, { token: own.edit_token })).status, 204);
    await heardBy('tweetDeleted', 'a delete on the other backend');

    await sleep(500);
    for (const [name, socket, got] of clients) {
      assert.deepEqual(got.newTweet.map((a) => a[0]), [true, true], `${name}: newTweet, each once`);
      assert.deepEqual(got.tweetUpdated.map((a) => a[0]), [{ id: own.id }, { id: far.id }], `${name}: tweetUpdated, each once`);
      assert.deepEqual(got.tweetDeleted.map((a) => a[0]), [{ id: own.id }], `${name}: tweetDeleted, once`);
      assert.equal(socket.io.engine.transport.name, 'websocket', `${name} is still on websocket`);
    }
  });

  // Issue 17.5: a full backend answered new socket clients 503, which nginx counts as a
  // failure (proxy_next_upstream http_503, max_fails=2): after two, it took the backend out
  // for 10 s for everyone, and its polling clients' next requests reached the other backend,
  // which does not know their sessions. A full backend now answers 429, which nginx passes on
  // as it is and does not count.
  test('a full backend refuses new socket clients with 429 through nginx and keeps its place: its polling clients keep their sessions', { timeout: 60_000 }, async (t) => {
    const c = await cluster(t, 'lb_full', { SOCKET_MAX_TOTAL: '2' });
    const clients = [];
    for (let i = 0; i < 2; i++) {
      const socket = await c.socket(c.lb.url, { mode: 'polling' });
      const cl = { socket, got: recorder(socket), engineId: socket.io.engine.id, disconnects: [] };
      socket.on('disconnect', (reason) => cl.disconnects.push(reason));
      clients.push(cl);
    }
    const { server, other } = await stuck(c, 2);

    // More than max_fails new clients while it is full.
    for (let i = 0; i < 4; i++) {
      const res = await request(`${c.lb.url}/socket.io/?EIO=3&transport=polling`);
      assert.equal(res.status, 429, `handshake ${i + 1} through nginx to the full backend: ${res.status} ${res.body}`);
      assert.equal(JSON.parse(res.body).error.code, 'rate_limited');
      assert.ok(res.headers['retry-after'], 'Retry-After');
    }
    await assert.rejects(connect(c.lb.url, { mode: 'websocket', reconnection: false }), /connect_error/, 'a websocket client is refused too');
    const ready = await (await fetch(`${server.url}/readyz`)).json();
    assert.deepEqual(ready, { status: 'ready', sockets_full: true }, 'the full backend is ready, and says it is full');

    // nginx still sends this address to the full backend, and its clients' polls with it.
    assert.equal((await servedBy(c)).server, server, 'plain requests still land on the full backend');
    for (let round = 1; round <= 2; round++) {
      await postTweet(other.url, `posted on the other backend, round ${round}`);
      for (const [i, cl] of clients.entries()) {
        assert.ok(await reached(cl.got.newTweet, round), `client ${i + 1} heard round ${round}`);
      }
    }
    await sleep(1_000); // a poll that lost its session would show as a disconnect by now
    for (const [i, cl] of clients.entries()) {
      assert.deepEqual(cl.disconnects, [], `client ${i + 1} was never disconnected`);
      assert.equal(cl.socket.io.engine.id, cl.engineId, `client ${i + 1} kept its Engine.IO session`);
    }
    assert.deepEqual(await connections(c), c.backends.map((s) => (s === server ? 2 : 0)), 'both clients are still on the full backend');
  });

  test('SIGTERM to the backend the clients are on moves them through nginx to the other on their first reconnect attempt; they catch up with what was posted meanwhile', { timeout: 60_000 }, async (t) => {
    const c = await cluster(t, 'lb_sigterm');
    // About the page's reconnect settings, without the random spread: the first attempt comes
    // reconnectionDelay after the disconnect, which leaves room to post meanwhile. (The 2.x
    // client reads randomizationFactor with `|| 0.5`, so 0 would mean ±50 %.)
    const reconnect = { reconnectionDelay: 1500, reconnectionDelayMax: 5000, randomizationFactor: 1e-9 };
    const clients = [];
    for (const mode of ['polling', 'websocket']) {
      const socket = await c.socket(c.lb.url, { mode, ...reconnect });
      clients.push({ mode, socket, got: recorder(socket), disconnectedAt: null, reconnected: null, caughtUp: null, newest: 0 });
    }
    const { server, other } = await stuck(c, 2);

    const first = await postTweet(c.lb.url, 'before the restart');
    for (const cl of clients) {
      assert.ok(await reached(cl.got.newTweet, 1), `${cl.mode}: newTweet for the first tweet`);
      // What a client does on newTweet: ask the API; it now knows the newest id.
      const page = await (await fetch(`${c.lb.url}/api/tweets`)).json();
      cl.newest = page[0].id;
      assert.equal(cl.newest, first.id);
      cl.socket.on('disconnect', () => { cl.disconnectedAt ??= Date.now(); });
      // On every (re)connect a client asks what it missed: events sent while it had no socket
      // never arrive.
      cl.socket.on('reconnect', async (attempt) => {
        cl.reconnected = { attempt, at: Date.now() };
        const res = await fetch(`${c.lb.url}/api/tweets?since_id=${cl.newest}`);
        cl.caughtUp = (await res.json()).map((tw) => tw.id);
      });
    }

    // Posted while the clients have no socket: after the shutdown has disconnected both, before
    // their first reconnect attempt.
    const posted = [];
    const posting = until(() => clients.every((cl) => cl.disconnectedAt !== null), 'both clients disconnected by the shutdown', 10_000)
      .then(async () => {
        for (const text of ['meanwhile 1', 'meanwhile 2']) posted.push({ id: (await postTweet(other.url, text)).id, at: Date.now() });
      });
    const res = await server.stop();
    assert.equal(res.code, 0, `the SIGTERM'd backend did not exit cleanly: ${JSON.stringify(res)}\n${tail(server.logs())}`);
    await until(() => clients.every((cl) => cl.caughtUp !== null), 'both clients reconnected and caught up', 15_000);
    await posting;

    for (const cl of clients) {
      assert.equal(cl.reconnected.attempt, 1, `${cl.mode}: reconnected on its first attempt (nginx passed over the stopped backend)`);
      const took = cl.reconnected.at - cl.disconnectedAt;
      t.diagnostic(`${cl.mode}: disconnected → reconnected in ${took} ms (reconnectionDelay ${reconnect.reconnectionDelay} ms)`);
      assert.ok(took < reconnect.reconnectionDelay + 3_000, `${cl.mode}: reconnected ${took} ms after the disconnect`);
      for (const p of posted) {
        assert.ok(p.at >= cl.disconnectedAt && p.at <= cl.reconnected.at, `${cl.mode}: tweet ${p.id} was not posted while it was away`);
      }
      assert.deepEqual(cl.caughtUp, posted.map((p) => p.id).reverse(), `${cl.mode}: since_id=${cl.newest} brought exactly what was posted meanwhile`);
    }
    assert.deepEqual(await Promise.all([other].map(async (s) => (await (await fetch(`${s.url}/healthz`)).json()).connections)), [2],
      'both clients are on the remaining backend');

    // And they are live there.
    await postTweet(c.lb.url, 'after the restart');
    for (const cl of clients) assert.ok(await reached(cl.got.newTweet, 2), `${cl.mode}: newTweet on the remaining backend`);
  });

  test('X-Forwarded-For: nginx replaces a forged header with the address it saw, the backends believe it only from TRUSTED_PROXIES, and each client address sticks to one backend', { timeout: 60_000 }, async (t) => {
    const c = await cluster(t, 'lb_xff');
    const forged = { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' };
    for (const localAddress of ['127.0.0.1', '127.0.0.9']) {
      const { line } = await servedBy(c, { localAddress, headers: forged });
      assert.match(line, new RegExp(`client=${localAddress.replaceAll('.', '\\.')}( |$)`), `through nginx from ${localAddress}: ${line}`);
    }
    // Straight to a backend from an address that is not the trusted proxy: the header is ignored.
    const id = `direct-${randomBytes(6).toString('hex')}`;
    const direct = c.backends[0];
    assert.equal((await request(`${direct.url}/api/tweets?limit=1`, { localAddress: '127.0.0.9', headers: { ...forged, 'x-request-id': id } })).status, 200);
    await until(() => direct.logs().includes(`request_id=${id}`), 'the direct request logged');
    const line = direct.logs().split('\n').find((l) => l.includes(`request_id=${id}`));
    assert.match(line, /client=127\.0\.0\.9( |$)/, `a header from an untrusted peer was believed: ${line}`);

    // Stickiness is by client address: 16 addresses, three requests each.
    const landed = new Map();
    for (let i = 20; i < 36; i++) {
      const localAddress = `127.0.2.${i}`;
      const names = [];
      for (let k = 0; k < 3; k++) names.push((await servedBy(c, { localAddress })).server.name);
      assert.equal(new Set(names).size, 1, `${localAddress} reached backends ${names}`);
      landed.set(localAddress, names[0]);
    }
    const counts = {};
    for (const name of landed.values()) counts[name] = (counts[name] ?? 0) + 1;
    t.diagnostic(`16 addresses landed on: ${JSON.stringify(counts)}`);
    assert.equal(Object.keys(counts).length, 2, 'the addresses spread over both backends');
  });

  nodeTest('two Chromium tabs, one through nginx and one straight to the other process: a post in either offers "Show 1 new tweet" in the other, and the click shows it', { skip: noBrowser, timeout: 90_000 }, async (t) => {
    const c = await cluster(t, 'lb_tabs');
    const { server, other } = await stuck(c, 0);
    const webs = [];
    for (const api of [c.lb.url, other.url]) {
      const w = await startWeb({ apiUrl: api });
      c.defer(async () => { await w.stop(); });
      webs.push(w);
    }
    const tabs = [];
    const open = async (web, name) => {
      const h = await openChirp(browser, web.url, { name });
      tabs.push(h);
      c.defer(() => h.close());
      return h;
    };
    try {
      const a = await open(webs[0], `A (nginx → ${server.name})`);
      const b = await open(webs[1], `B (straight to ${other.name})`);
      assert.deepEqual(await connections(c), c.backends.map(() => 1), 'one tab on each backend');

      await a.page.fill('#name', 'Alice');
      const fromA = await a.post('hello through the balancer');
      await b.waitForButton('Show 1 new tweet', 5_000);
      await b.button().click();
      await until(async () => (await b.ids())[0] === fromA, 'B shows A\'s tweet at the top');
      assert.deepEqual((await b.tweets()).map((tw) => [tw.id, tw.author, tw.content]), [[fromA, 'Alice', 'hello through the balancer']]);

      await b.page.fill('#name', 'Bob');
      const fromB = await b.post('hello straight from the other process');
      await a.waitForButton('Show 1 new tweet', 5_000);
      await a.button().click();
      await until(async () => (await a.ids())[0] === fromB, 'A shows B\'s tweet at the top');
      assert.deepEqual(await a.ids(), [fromB, fromA]);
      for (const h of tabs) {
        assert.deepEqual(h.problems(), [], `${h.name}: console errors, page errors or dialogs`);
      }
    } catch (err) {
      for (const h of tabs) {
        try { err.message += `\nscreenshot: ${await h.screenshot('balancer-two-tabs')}`; } catch { /* closed */ }
      }
      throw err;
    }
  });
});
