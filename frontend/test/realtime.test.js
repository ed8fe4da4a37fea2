// Protocol tests: the real socket.io 2.x clients from npm (2.4.0, which the server serves, and
// 2.5.0) against the real backend binary, in each transport mode.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, postTweet } from './support/server.js';
import { clients, modes, connect, recorder } from './support/sockets.js';
import { until, sleep, within } from './support/wait.js';

const open = [];
after(() => { for (const s of open) s.close(); });
const track = (s) => { open.push(s); return s; };

for (const version of Object.keys(clients)) {
  for (const mode of Object.keys(modes)) {
    test(`${version} ${mode}: relay to the others, API events, a page of another origin`, async (t) => {
      const server = await startServer();
      t.after(() => server.stop());
      const a = track(await connect(server.url, { version, mode, origin: 'http://other-site.example:3000' }));
      const b = track(await connect(server.url, { version, mode }));
      const c = track(await connect(server.url, { version, mode }));
      const [ga, gb, gc] = [a, b, c].map((s) => recorder(s));

      // A client's newTweet reaches every other client as true; its data is never forwarded.
      a.emit('newTweet', { forged: '<script>' });
      await until(() => gb.newTweet.length === 1 && gc.newTweet.length === 1, 'relay reaches b and c');
      assert.deepEqual(gb.newTweet[0], [true]);
      await sleep(200);
      assert.equal(ga.newTweet.length, 0, 'the sender got its own relay');

      // POST, PATCH and DELETE announce, after the commit, to everyone.
      const tweet = await postTweet(server.url, 'announced');
      await until(() => [ga, gb, gc].every((g) => g.newTweet.length === (g === ga ? 1 : 2)), 'POST announces to all');
      assert.deepEqual(ga.newTweet[0], [true]);
      const auth = { authorization: `Bearer ${tweet.edit_token}`, 'content-type': 'application/json' };
      let res = await fetch(`${server.url}/api/tweets/${tweet.id}`, { method: 'PATCH', headers: auth, body: '{"content":"edited"}' });
      assert.equal(res.status, 200);
      await until(() => [ga, gb, gc].every((g) => g.tweetUpdated.length === 1), 'PATCH announces');
      assert.deepEqual(gb.tweetUpdated[0], [{ id: tweet.id }]);
      res = await fetch(`${server.url}/api/tweets/${tweet.id}`, { method: 'DELETE', headers: auth });
      assert.equal(res.status, 204);
      await until(() => [ga, gb, gc].every((g) => g.tweetDeleted.length === 1), 'DELETE announces');
      assert.deepEqual(gc.tweetDeleted[0], [{ id: tweet.id }]);

      if (mode === 'default') {
        await until(() => [a, b, c].every((s) => s.io.engine.transport.name === 'websocket'), 'default clients upgrade to websocket');
      }
      const health = await (await fetch(`${server.url}/healthz`)).json();
      assert.equal(health.connections, 3);
      for (const s of [a, b, c]) s.close();
      await until(() => /socket disconnected/.test(server.logs()), 'disconnects are logged');
    });
  }
}

for (const mode of Object.keys(modes)) {
  test(`${mode}: clients reconnect after a server restart`, async (t) => {
    const first = await startServer();
    // timeout: an attempt that races the old server's closing keep-alive connections can hang
    // in Node's XHR shim; the client abandons it after this long (its default is 20 s).
    const opts = { mode, reconnectionDelay: 100, reconnectionDelayMax: 300, timeout: 3000 };
    const a = track(await connect(first.url, opts));
    const b = track(await connect(first.url, opts));
    if (mode === 'default') {
      // A restart in the instant between a 2.x client pausing polling and finishing its
      // upgrade leaves that client's polling paused (engine.io-client 3.x never resumes it
      // after a failed probe) until its own ping timeout; wait for the upgrade to finish.
      await until(() => [a, b].every((s) => s.io.engine.transport.name === 'websocket' && !s.io.engine.upgrading), 'upgraded');
    }
    const state = () => JSON.stringify([a, b].map((s) => ({
      connected: s.connected, manager: s.io.readyState, reconnecting: s.io.reconnecting,
      attempts: s.io.backoff.attempts, engine: s.io.engine?.readyState, transport: s.io.engine?.transport?.name,
    })));
    const failedAttempt = [a, b].map((s) => new Promise((resolve) => s.once('reconnect_error', resolve)));
    const reconnected = [a, b].map((s) => new Promise((resolve) => s.once('reconnect', resolve)));
    const { code } = await first.stop();
    assert.equal(code, 0, 'the server stops cleanly with clients connected');
    // A deploy leaves a gap between the old process and the new one. The next server starts
    // only once each client has tried and failed at least once (nothing listening, or the old
    // one refusing): clients must go on trying through the gap, not only when the new server
    // happens to be up before their first attempt.
    await within(Promise.all(failedAttempt), 10_000, () => `a failed reconnect attempt by each client; clients ${state()}`);
    const second = await startServer({ port: first.port });
    t.after(() => second.stop());
    await within(Promise.all(reconnected), 30_000, () => `reconnect; clients ${state()}\nfirst server:\n` +
      `${first.logs().slice(-3000)}\nsecond:\n${second.logs().slice(-3000)}`);
    const gb = recorder(b);
    a.emit('newTweet', true);
    await until(() => gb.newTweet.length === 1, 'relay after the restart');
  });
}

test('an origin outside CORS_ALLOWED_ORIGINS is refused on both transports', async (t) => {
  const server = await startServer({ env: { CORS_ALLOWED_ORIGINS: 'http://allowed.example' } });
  t.after(() => server.stop());
  for (const mode of ['polling', 'websocket']) {
    await assert.rejects(connect(server.url, { mode, origin: 'http://evil.example', reconnection: false }), /connect_error/, mode);
    track(await connect(server.url, { mode, origin: 'http://allowed.example' }));
    track(await connect(server.url, { mode })); // no Origin: not a page
  }
  const res = await fetch(`${server.url}/socket.io/?EIO=3&transport=polling`, { headers: { origin: 'http://evil.example' } });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error.code, 'forbidden');
});

test('stalled polling sessions delay no one and block no new connection', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  // Twenty raw sessions: the handshake, then never another poll.
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${server.url}/socket.io/?EIO=3&transport=polling&t=${i}`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /"sid"/);
  }
  const listeners = [];
  for (const mode of Object.keys(modes)) {
    const started = Date.now();
    listeners.push(track(await connect(server.url, { mode })));
    assert.ok(Date.now() - started < 2000, `a new ${mode} connection waited`);
  }
  const got = listeners.map((s) => recorder(s));
  for (let i = 1; i <= 30; i++) {
    await postTweet(server.url, `while stalled ${i}`);
    await until(() => got.every((g) => g.newTweet.length === i), `event ${i} reaches every live client`);
  }
});

test('the served client file is the one the page loads', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const res = await fetch(`${server.url}/socket.io/socket.io.js`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/javascript/);
  assert.match(await res.text(), /Socket\.IO v2\.4\.0/);
});
