// Hostile Engine.IO and socket.io framing against the real backend binary. One
// unauthenticated packet whose header carries a huge attachment count makes an unchecked
// go-socket.io size a slice by it, and the process dies (out of memory, or a makeslice panic). Each
// packet here must close only the attacker's connection: the process stays up, and a real
// socket.io client connected before the attack goes on receiving. The legitimate forms of every
// packet a 2.x client sends must still pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, postTweet } from './support/server.js';
import { connect, recorder } from './support/sockets.js';
import { until, sleep } from './support/wait.js';

// Engine.IO message "4" carrying the socket.io packet.
const crashers = {
  'binary event with a huge attachment count': '459999999999-["newTweet"]',
  'plain event with a huge attachment count': '429999999999-["newTweet"]',
  'attachment count 2^64-1': '4518446744073709551615-["newTweet"]',
};
const otherBounds = {
  'disconnect with a huge attachment count': '4199999999999-["x"]',
  'overlong ack id': '42123456789012345678901["newTweet"]',
  'other namespace': '42/x,["newTweet"]',
  'long namespace': '40/' + 'a'.repeat(30_000),
};

/** payload frames Engine.IO packets as a polling body: `<UTF-16 length>:<packet>` each. */
const payload = (...packets) => packets.map((p) => `${p.length}:${p}`).join('');

const REFUSED = /msg="socket closed: refused packet"/;
const refusalRecords = (logs) => logs.split('\n').filter((line) => REFUSED.test(line));

/** connectionsReach polls /healthz (bounded: 5 s) until it counts n socket connections. */
async function connectionsReach(url, n, what) {
  let count;
  for (let i = 0; i < 250; i++) {
    count = (await (await fetch(`${url}/healthz`)).json()).connections;
    if (count === n) return;
    await sleep(20);
  }
  assert.equal(count, n, what);
}

/**
 * withBystander starts the server and connects a real socket.io client first; after attack()
 * it checks that the process is up, that the bystander still receives, and that exactly one
 * refusal was logged, at Info, per attacking connection.
 */
async function withBystander(t, attack, { refusals = 1 } = {}) {
  const server = await startServer();
  t.after(() => server.stop());
  const bystander = await connect(server.url, { mode: 'websocket' });
  t.after(() => bystander.close());
  const got = recorder(bystander);
  await connectionsReach(server.url, 1, 'the bystander is registered');

  // The process must survive even when the attack's own checks fail: say so first.
  const attacked = await attack(server).then(() => null, (err) => err);
  const alive = await fetch(`${server.url}/healthz`).then((res) => res.ok, () => false);
  assert.ok(alive && server.proc.exitCode === null && server.proc.signalCode === null,
    `the process died: ${/^(fatal error|panic):.*$/m.exec(server.logs())?.[0] ?? server.logs().slice(-1500)}`);
  if (attacked) throw attacked;
  await postTweet(server.url, 'after the attack');
  await until(() => got.newTweet.length === 1, 'the bystander gets newTweet after the attack');
  assert.deepEqual(got.newTweet[0], [true]);
  // The attacker's session is gone: only the bystander is counted.
  await connectionsReach(server.url, 1, 'only the bystander is left');
  const records = refusalRecords(server.logs());
  assert.equal(records.length, refusals, `one refusal record per attacking connection:\n${server.logs().slice(-3000)}`);
  for (const line of records) assert.match(line, /level=INFO/);
}

/** pollingSession handshakes over polling and returns the sid. */
async function pollingSession(url) {
  const res = await fetch(`${url}/socket.io/?EIO=3&transport=polling`);
  assert.equal(res.status, 200);
  const body = await res.text();
  const m = /^\d+:0(\{.*?\})/.exec(body);
  assert.ok(m, `open packet in ${body}`);
  return JSON.parse(m[1]).sid;
}

async function pollPost(url, sid, body, contentType = 'text/plain;charset=UTF-8') {
  const res = await fetch(`${url}/socket.io/?EIO=3&transport=polling&sid=${sid}`, {
    method: 'POST', headers: { 'content-type': contentType }, body,
  });
  return { status: res.status, body: await res.text() };
}

/** pollingClosed is true once the session answers a poll with a close packet or 400. */
async function pollingClosed(url, sid) {
  const res = await fetch(`${url}/socket.io/?EIO=3&transport=polling&sid=${sid}`);
  const body = await res.text();
  return res.status === 400 || body.includes('1:1');
}

async function expectPollingRefused(server, body, contentType, status = 400) {
  const sid = await pollingSession(server.url);
  const res = await pollPost(server.url, sid, body, contentType);
  assert.equal(res.status, status, `POST answered ${res.status} ${res.body}`);
  assert.match(res.body, /refused packet/);
  let closed = false;
  for (let i = 0; i < 100 && !closed; i++) closed = await pollingClosed(server.url, sid);
  assert.ok(closed, 'the attacker\'s polling session is closed');
}

/** rawSocket opens an Engine.IO websocket and waits for its open packet. */
async function rawSocket(url) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=3&transport=websocket`);
  const messages = [];
  ws.on('message', (m) => messages.push(String(m)));
  const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no open packet in 5 s')), 5000);
    ws.once('error', reject);
    ws.once('message', (m) => { clearTimeout(timer); assert.match(String(m), /^0\{"sid"/); resolve(); });
  });
  return { ws, messages, closed };
}

async function expectWebsocketClosed(sock) {
  const code = await Promise.race([sock.closed, new Promise((r) => setTimeout(() => r('open'), 5000))]);
  assert.notEqual(code, 'open', 'the attacker\'s websocket is closed');
  return code;
}

for (const [name, packet] of Object.entries({ ...crashers, ...otherBounds })) {
  test(`polling: ${name} closes the attacker's session only`, async (t) => {
    await withBystander(t, (server) => expectPollingRefused(server, payload(packet)));
  });
  test(`websocket: ${name} closes the attacker's socket only`, async (t) => {
    await withBystander(t, async (server) => {
      const sock = await rawSocket(server.url);
      t.after(() => sock.ws.terminate());
      sock.ws.send(packet);
      assert.equal(await expectWebsocketClosed(sock), 1008, 'closed as a policy violation');
    });
  });
}

test('binary frames close the attacker\'s connection only', async (t) => {
  await withBystander(t, async (server) => {
    // A polling binary packet inside a text payload, and a binary body.
    await expectPollingRefused(server, payload('b4' + Buffer.from('2["newTweet"]').toString('base64')));
    await expectPollingRefused(server, Buffer.from([0, 1, 255, 4]), 'application/octet-stream');
    // A websocket binary message.
    const sock = await rawSocket(server.url);
    t.after(() => sock.ws.terminate());
    sock.ws.send(Buffer.from('\x042["newTweet"]'), { binary: true });
    await expectWebsocketClosed(sock);
  }, { refusals: 3 });
});

test('oversized messages and bad payload lengths close the attacker\'s connection only', async (t) => {
  await withBystander(t, async (server) => {
    await expectPollingRefused(server, '9999999999:42["newTweet"]');
    await expectPollingRefused(server, payload('2' + 'x'.repeat(70_000)), undefined, 413);
    const sock = await rawSocket(server.url);
    t.after(() => sock.ws.terminate());
    sock.ws.send('2' + 'x'.repeat(70_000));
    assert.equal(await expectWebsocketClosed(sock), 1009, 'closed as too big');
  }, { refusals: 3 });
});

// Every form a 2.x client (or another client of the "/" namespace) sends must still pass.
test('the legitimate packets pass on both transports', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const bystander = await connect(server.url, { mode: 'websocket' });
  t.after(() => bystander.close());
  const got = recorder(bystander);
  const events = ['42["newTweet",true]', '421["newTweet",true]', '42/,["newTweet",true]', '42/,2["newTweet",{"a":1}]'];
  const others = ['2', '6', '40', '40/,'];

  // Each event form from a connection of its own: a connection's relays are limited to one
  // a second, and each form must be relayed, not merely not refused. The next form is sent
  // once the last has reached the bystander: the server merges newTweet broadcasts that come
  // within 100 ms of each other into one.
  let sock;
  for (const [i, event] of events.entries()) {
    const raw = await rawSocket(server.url);
    t.after(() => raw.ws.terminate());
    sock = raw;
    for (const p of [...others, event]) sock.ws.send(p);
    sock.ws.send('2probe');
    await until(() => sock.messages.includes('3probe'), 'the raw websocket answers a ping after them');
    await until(() => got.newTweet.length === i + 1, `websocket event ${event} is relayed`);
  }

  let sid;
  for (const [i, event] of events.entries()) {
    sid = await pollingSession(server.url);
    const res = await pollPost(server.url, sid, payload(...others, event));
    assert.deepEqual(res, { status: 200, body: 'ok' });
    await until(() => got.newTweet.length === events.length + i + 1, `polling event ${event} is relayed`);
  }
  // A client's DISCONNECT ("41") and CLOSE ("1") end their sessions the ordinary way.
  assert.deepEqual(await pollPost(server.url, sid, payload('41', '1')), { status: 200, body: 'ok' });
  sock.ws.send('41');
  assert.equal(server.proc.exitCode, null);
  assert.deepEqual(refusalRecords(server.logs()), [], 'nothing was refused');
});
