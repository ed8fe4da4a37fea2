// Starts the real backend binary, exactly as production runs it, for the Node and browser
// tests: a free port (PORT=0, read back from the `listening` log record), a fresh SQLite file
// unless DATABASE_URL is given, and a clean stop.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './wait.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const chirpBin = process.env.CHIRP_BIN
  ? path.resolve(process.env.CHIRP_BIN)
  : path.resolve(here, '../../../backend/bin/chirp');

/**
 * startServer runs the backend. Options: env (extra variables), port (to restart on the same
 * port), dir (to keep the same SQLite file across a restart). Sockets and connections per
 * address and network are not limited (SOCKET_MAX_PER_IP=0, SOCKET_MAX_PER_NET=0,
 * CONN_MAX_PER_IP=0) unless env sets them: every test client shares 127.0.0.1.
 */
export async function startServer({ env = {}, port = 0, dir } = {}) {
  const ownDir = !dir;
  dir ??= mkdtempSync(path.join(tmpdir(), 'chirp-test-'));
  const run = await runChirp({
    env: { PORT: String(port), DATABASE_URL: `sqlite://${path.join(dir, 'chirp.db')}`, SOCKET_MAX_PER_IP: '0', SOCKET_MAX_PER_NET: '0', CONN_MAX_PER_IP: '0', ...env },
    readyPath: '/healthz',
  });
  return {
    ...run,
    dir,
    /** stop sends SIGTERM and waits for a clean exit (code 0). */
    async stop() {
      const res = await run.stop();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
      return res;
    },
  };
}

/**
 * runChirp starts the binary (args: [] for the API, ['web'] for the page server) on
 * 127.0.0.1 (with the write and sign-in limits off unless env sets them), reads its port from the `listening` log record, and waits until readyPath answers.
 * Returns {url, port, proc, logs(), stop(), kill()}.
 */
export async function runChirp({ args = [], env = {}, readyPath }) {
  const name = ['chirp', ...args].join(' ');
  const proc = spawn(chirpBin, args, {
    // The write limit is off unless a test sets it: the tests post many tweets from one address.
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', LOG_LEVEL: 'debug', RATE_LIMIT_WRITES_PER_MINUTE: '0', SIGNIN_LIMIT_PER_MINUTE: '0', SIGNIN_ACCOUNT_LIMIT_PER_HOUR: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let logs = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => { logs += chunk; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));

  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no listening record in 20 s:\n${logs}`)), 20_000);
    const look = () => {
      const m = /msg=listening addr=(127\.0\.0\.1:\d+)/.exec(logs);
      if (m) { clearTimeout(timer); proc.stderr.off('data', look); resolve(m[1]); }
    };
    proc.stderr.on('data', look);
    look();
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}):\n${logs}`)); });
  });
  const url = `http://${addr}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url + readyPath)).ok) break;
    } catch { /* not yet */ }
    if (i > 200) throw new Error(`${name}: ${readyPath} never answered:\n${logs}`);
    await sleep(25);
  }
  return {
    url,
    port: Number(addr.split(':')[1]),
    proc,
    logs: () => logs,
    /** stop sends SIGTERM and waits for the process to exit. */
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    /** kill ends the process at once, as a crash would. */
    async kill() {
      proc.kill('SIGKILL');
      return exited;
    },
  };
}

/** post creates a tweet through the API and returns its JSON (with edit_token). */
export async function postTweet(url, content = 'hello', author = 'tester') {
  const res = await fetch(`${url}/api/tweets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ author, content }),
  });
  if (res.status !== 201) throw new Error(`POST /api/tweets: ${res.status} ${await res.text()}`);
  return res.json();
}
