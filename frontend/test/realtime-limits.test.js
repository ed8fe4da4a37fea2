// Socket limits as the real socket.io 2.x client meets them. A handshake over
// SOCKET_MAX_PER_IP, SOCKET_MAX_TOTAL or SOCKET_MAX_PER_NET (429 each: never 503, which a
// balancer counts as the backend failing) is a connect_error in every transport
// mode, and a place given back is taken again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer } from './support/server.js';
import { modes, connect } from './support/sockets.js';
import { sleep } from './support/wait.js';

const open = [];
after(() => { for (const s of open) s.close(); });
const track = (s) => { open.push(s); return s; };

for (const [limit, status] of [['SOCKET_MAX_PER_IP', 429], ['SOCKET_MAX_TOTAL', 429]]) {
  test(`${limit}=2: a third connection is refused (${status}), and accepted once one leaves`, async (t) => {
    const server = await startServer({ env: { [limit]: '2' } });
    t.after(() => server.stop());
    const a = track(await connect(server.url, { mode: 'polling' }));
    track(await connect(server.url, { mode: 'websocket' }));

    for (const mode of Object.keys(modes)) {
      await assert.rejects(connect(server.url, { mode, reconnection: false }), /connect_error/, `${mode} over the limit`);
    }
    const res = await fetch(`${server.url}/socket.io/?EIO=3&transport=polling`);
    assert.equal(res.status, status);
    assert.equal((await res.json()).error.code, 'rate_limited');
    assert.match(res.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After');

    a.close();
    let health;
    for (let i = 0; i < 200; i++) {
      health = await (await fetch(`${server.url}/healthz`)).json();
      if (health.sessions === 1) break;
      await sleep(25);
    }
    assert.equal(health.sessions, 1, 'the closed socket gave its place back');
    track(await connect(server.url, { mode: 'default' }));
    assert.match(server.logs(), new RegExp(`limit=${limit}`));
  });
}

/** handshakeFrom makes a polling handshake from localAddress: {status, body}. */
function handshakeFrom(url, localAddress) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/socket.io/?EIO=3&transport=polling`, { localAddress, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('handshake: no answer in 10 s')));
    req.on('error', reject);
  });
}

// A per-address cap alone lets a few hundred addresses fill SOCKET_MAX_TOTAL. Sessions are also counted per
// network (an IPv4 /24 by default): sockets from 40 addresses of one /24 stop at its cap,
// while another /24 still connects.
test('SOCKET_MAX_PER_NET=30: websockets from 40 addresses of 127.0.0.0/24 stop at 30; 127.0.1.0/24 connects', async (t) => {
  const server = await startServer({ env: { SOCKET_MAX_PER_IP: '2', SOCKET_MAX_PER_NET: '30' } });
  t.after(() => server.stop());
  let connected = 0;
  const refusals = [];
  for (let i = 0; i < 40; i++) {
    const localAddress = `127.0.0.${2 + i}`;
    try {
      track(await connect(server.url, { mode: 'websocket', localAddress, reconnection: false }));
      connected++;
    } catch (err) {
      refusals.push(`${localAddress}: ${err.message}`);
    }
  }
  assert.equal(connected, 30, `connected from one /24; refused: ${refusals.join('; ')}`);
  for (const r of refusals) assert.match(r, /connect_error/);
  const health = await (await fetch(`${server.url}/healthz`)).json();
  assert.equal(health.sessions, 30);

  const { status, body } = await handshakeFrom(server.url, '127.0.0.60');
  assert.equal(status, 429, body);
  assert.equal(JSON.parse(body).error.code, 'rate_limited');
  assert.match(JSON.parse(body).error.message, /network/);
  track(await connect(server.url, { mode: 'websocket', localAddress: '127.0.1.2', reconnection: false }));
  assert.match(server.logs(), /limit=SOCKET_MAX_PER_NET client=127\.0\.0\.0\/24/);
});
