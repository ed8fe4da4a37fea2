// Debian's nginx in front of local backends, configured exactly as `make run-balanced` configures
// it: deploy/balancer/run-balanced.sh renders the template compose ships (through the .envsh, as
// the nginx image does) into a directory of its own (configuration, pid file, error log) and
// runs nginx there. Only the listen address differs from the container's (a free loopback
// port), and `resolve` is left out, as Debian's nginx 1.22 has none.
// Importing this module starts nothing.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sleep } from './wait.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The script behind `make run-balanced`; its `nginx DIR` runs the balancer of these tests. */
export const runBalancedScript = path.resolve(here, '../../../deploy/balancer/run-balanced.sh');
export const nginxBin = process.env.NGINX_BIN || '/usr/sbin/nginx';

/**
 * Why the balancer tests are skipped here, or false when they run: without nginx they are
 * skipped, except where CHIRP_REQUIRE_NGINX is set (CI), where startBalancer fails instead.
 */
export const nginxSkip = !process.env.CHIRP_REQUIRE_NGINX && !(await isExecutable(nginxBin)) &&
  `nginx not found at ${nginxBin}: apt-get install nginx (or set NGINX_BIN) to run the balancer tests`;

async function isExecutable(file) {
  try {
    await promisify(execFile)(file, ['-v']);
    return true;
  } catch {
    return false;
  }
}

/**
 * balancerEnv is the environment run-balanced.sh renders the balancer from: backends
 * ("127.0.0.1:8001" entries), without `resolve`, listening on 127.0.0.1:port.
 */
function balancerEnv(backends, port) {
  return {
    PATH: process.env.PATH, NGINX_BIN: nginxBin,
    CHIRP_BACKENDS: backends.join(' '), CHIRP_BACKEND_RESOLVE: '', CHIRP_LISTEN: `127.0.0.1:${port}`,
  };
}

/**
 * startBalancer runs nginx on a free loopback port in front of backends (URLs such as
 * server.url), through `run-balanced.sh nginx DIR` (which becomes nginx). Returns {url, port,
 * dir, logs(), stop()}; stop() ends nginx and removes its directory.
 */
export async function startBalancer(backends) {
  if (!(await isExecutable(nginxBin))) throw new Error(`CHIRP_REQUIRE_NGINX is set but nginx is not at ${nginxBin}`);
  const entries = backends.map((u) => new URL(u).host);
  for (let attempt = 1; ; attempt++) {
    // Somewhere nginx's unprivileged workers can reach (the script opens it to them).
    const dir = mkdtempSync(path.join(tmpdir(), 'chirp-balancer-'));
    const port = await freePort();
    const proc = spawn(runBalancedScript, ['nginx', dir], { env: balancerEnv(entries, port), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (c) => { stderr += c; });
    const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    const logs = () => {
      let file = '';
      try { file = readFileSync(path.join(dir, 'error.log'), 'utf8'); } catch { /* not yet */ }
      return stderr + file;
    };
    const url = `http://127.0.0.1:${port}`;
    const up = await waitListening(port, exited);
    if (up === true) {
      return {
        url,
        port,
        dir,
        logs,
        /** stop ends nginx (SIGTERM: the master stops its workers) and removes its directory. */
        async stop() {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
          const res = await exited;
          clearTimeout(timer);
          rmSync(dir, { recursive: true, force: true });
          return res;
        },
      };
    }
    proc.kill('SIGKILL');
    await exited;
    const text = logs();
    rmSync(dir, { recursive: true, force: true });
    // Another process may have taken the port between freePort and nginx's bind.
    if (attempt >= 3 || !/Address already in use/.test(text)) {
      throw new Error(`nginx did not start (${JSON.stringify(up)}):\n${text}`);
    }
  }
}

/** freePort is a TCP port free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** waitListening resolves true once port accepts connections, or nginx's exit, or 'timeout'. */
async function waitListening(port, exited) {
  let gone = null;
  exited.then((res) => { gone = res; });
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    if (gone) return gone;
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return true;
    await sleep(25);
  }
  return 'timeout';
}

/**
 * request makes one HTTP request from a chosen loopback address (Linux answers all of
 * 127.0.0.0/8), as a client elsewhere would reach the balancer. Returns {status, headers, body}.
 */
export function request(url, { method = 'GET', headers = {}, body, localAddress = '127.0.0.1' } = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method, localAddress,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      agent: false,
      timeout: 10_000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
