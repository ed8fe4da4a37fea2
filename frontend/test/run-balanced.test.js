// `make run-balanced`, as a user runs it: deploy/balancer/run-balanced.sh (what the target runs
// after building chirp) with a PostgreSQL DATABASE_URL starts two backends, nginx in front of
// them and the page; two Chromium tabs of the page tell each other's posts through nginx; Ctrl+C
// (SIGINT to the whole process group, as a terminal sends it) stops everything it started.
// The ports move by the script's variables (FIRST_BACKEND_PORT, PORT, WEB_PORT, HOST), so the
// test runs on free loopback ports beside anything else.
//
// Run: CHIRP_BIN=../backend/bin/chirp TEST_DATABASE_URL=postgres://… node --test test/run-balanced.test.js
// Needs nginx (apt-get install nginx), PostgreSQL and Chromium.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chirpBin } from './support/server.js';
import { createPostgresDatabase, postgresSkip } from './support/postgres.js';
import { freePort, nginxBin, nginxSkip, request, runBalancedScript } from './support/balancer.js';
import { launchBrowser, chromiumPath } from './support/browser.js';
import { openChirp } from './support/page.js';
import { until, within } from './support/wait.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const skip = postgresSkip || nginxSkip;
const noBrowser = skip || (!existsSync(chromiumPath) && !process.env.CHIRP_REQUIRE_BROWSER &&
  `Chromium not found at ${chromiumPath}: apt-get install chromium (or set CHROMIUM_PATH) to run the browser tests`);

/** @type {import('playwright-core').Browser} */
let browser;
before(async () => {
  if (!noBrowser) browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/**
 * backendPorts finds n consecutive ports free on 127.0.0.1 (FIRST_BACKEND_PORT and on). They are
 * looked for below the kernel's ephemeral range (32768 and up here): there every outgoing
 * connection of the tests running beside this one takes a port, and a run of free ones after
 * an ephemeral free port is often cut by one of them.
 */
async function backendPorts(n, avoid) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * (12_000 - n));
    const ports = Array.from({ length: n }, (_, i) => first + i);
    if (ports.some((p) => avoid.includes(p))) continue;
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return ports;
  }
  throw new Error(`no ${n} consecutive free ports in 20000-31999 in 50 tries`);
}

/** isFree says whether port can be listened on at 127.0.0.1 now. */
function isFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * runBalanced starts run-balanced.sh in a process group of its own (as a terminal's foreground
 * job is) with two backends on a fresh database, on free ports, and waits until it says the
 * page is ready. With how.make it runs `make run-balanced` instead (which builds chirp and execs
 * the script), as the README's `DATABASE_URL=… make run-balanced` does; with how.sigintIgnored,
 * make starts with SIGINT ignored, as it does in the background of a non-interactive shell
 * (`make run-balanced &` in a script, a job runner): the script cannot trap it then, while its
 * children (Go's signal.Notify, nginx) still stop on it. Returns the ports, the processes it
 * listed ({name, pid, url}), its output and exit. After the test, whatever is left of the group
 * is killed and the database dropped.
 */
async function runBalanced(t, tag, how = {}) {
  const db = await createPostgresDatabase(tag);
  const port = await freePort();
  const webPort = await freePort();
  const backends = await backendPorts(2, [port, webPort]);
  const env = {
    PATH: process.env.PATH, DATABASE_URL: db.url, BACKENDS: '2', FIRST_BACKEND_PORT: String(backends[0]),
    PORT: String(port), WEB_PORT: String(webPort), HOST: '127.0.0.1', NGINX_BIN: nginxBin,
  };
  let command = [runBalancedScript];
  if (how.make) {
    // make's recipe builds chirp (a no-op once built) and passes the script its CHIRP_BIN; Go
    // finds its caches through HOME and its own variables.
    for (const [k, v] of Object.entries(process.env)) if (k === 'HOME' || k.startsWith('GO')) env[k] = v;
    command = how.sigintIgnored ? ['/bin/sh', '-c', 'trap "" INT; exec make run-balanced'] : ['make', 'run-balanced'];
  } else {
    env.CHIRP_BIN = chirpBin;
  }
  const proc = spawn(command[0], command.slice(1), { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  for (const stream of [proc.stdout, proc.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (c) => { output += c; });
  }
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      process.kill(-proc.pid, 'SIGKILL');
      await exited;
    }
    try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* nothing left: as it should be */ }
    const dir = /logs (?:in|kept in) (\S+)/.exec(output)?.[1];
    if (dir?.includes('chirp-balanced.')) rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });
  let gone = null;
  exited.then((res) => { gone = res; });
  await until(() => gone || /open http:\/\/\S+/.test(output), 'run-balanced.sh saying the page is ready', how.make ? 120_000 : 60_000)
    .catch((err) => { throw new Error(`${err.message}\n${output}`); });
  assert.equal(gone, null, `run-balanced.sh exited before it was ready: ${JSON.stringify(gone)}\n${output}`);
  const started = [...output.matchAll(/^ +(backend \d+|balancer|page) +pid (\d+) +(http:\/\/\S+)/gm)]
    .map(([, name, pid, url]) => ({ name, pid: Number(pid), url }));
  return { proc, pgid: proc.pid, exited, port, webPort, backends, started, output: () => output };
}

/** assertAllGone checks that no process of the group is left and that every port is free again. */
async function assertAllGone(run) {
  await until(() => {
    try {
      process.kill(-run.pgid, 0);
      return false;
    } catch (err) {
      return err.code === 'ESRCH';
    }
  }, 'every process of the group gone', 5_000);
  for (const { name, pid } of run.started) {
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `${name} (pid ${pid}) is still running`);
  }
  for (const p of [run.port, run.webPort, ...run.backends]) {
    assert.equal(await isFree(p), true, `port ${p} is still taken`);
  }
}

nodeTest('make run-balanced: two tabs of the page on WEB_PORT tell each other\'s posts through nginx ("Show 1 new tweet"); Ctrl+C stops every process it started', { skip: noBrowser, timeout: 120_000 }, async (t) => {
  const run = await runBalanced(t, 'run_balanced');
  const balancer = `http://127.0.0.1:${run.port}`;
  const page = `http://127.0.0.1:${run.webPort}`;
  assert.deepEqual(run.started.map(({ name, url }) => [name, url]), [
    ['backend 1', `http://127.0.0.1:${run.backends[0]}`],
    ['backend 2', `http://127.0.0.1:${run.backends[1]}`],
    ['balancer', balancer],
    ['page', page],
  ], `what it says it started:\n${run.output()}`);
  const config = await (await fetch(`${page}/config.js`)).text();
  assert.match(config, new RegExp(`"apiUrl":"${balancer}"`), 'the page names the balancer as its API');

  // Every request the tabs make besides the page's own files goes to the balancer.
  const elsewhere = [];
  const watch = (p) => p.on('request', (r) => {
    const { origin } = new URL(r.url());
    if (origin !== page && origin !== balancer && !r.url().startsWith('data:')) elsewhere.push(r.url());
  });
  const a = await openChirp(browser, page, { name: 'A', before: watch });
  t.after(() => a.close());
  const b = await openChirp(browser, page, { name: 'B', before: watch });
  t.after(() => b.close());
  const text = `through nginx ${Date.now()}`;
  const id = await a.post(text, { author: 'balanced' });
  await b.waitForButton('Show 1 new tweet', 5_000);
  await b.button().click();
  await until(async () => (await b.tweets()).some((x) => x.id === id && x.content === text), 'B showing the post after the click');
  assert.deepEqual(elsewhere, [], 'requests that bypassed the balancer');
  assert.deepEqual([...a.problems(), ...b.problems()], [], 'console errors or dialogs in the tabs');

  // A client's own address survives the balancer (TRUSTED_PROXIES is its address): a request
  // from 127.0.0.2 is logged by a backend as that client.
  const requestId = `run-balanced-${Date.now()}`;
  const probe = await request(`${balancer}/api/tweets?limit=1`, { localAddress: '127.0.0.2', headers: { 'x-request-id': requestId } });
  assert.equal(probe.status, 200, probe.body);
  const logs = [...run.output().matchAll(/^ +backend \d+ +pid \d+ +\S+ +(\S+)/gm)].map((m) => m[1]);
  assert.equal(logs.length, 2, `the backends' log files:\n${run.output()}`);
  await until(() => logs.some((f) => readFileSync(f, 'utf8').split('\n')
    .some((l) => l.includes(`request_id=${requestId}`) && l.includes('client=127.0.0.2'))),
  `a backend logging ${requestId} from client=127.0.0.2`);

  await a.close();
  await b.close();
  process.kill(-run.pgid, 'SIGINT');
  const res = await within(run.exited, 30_000, () => `run-balanced.sh still running 30 s after Ctrl+C:\n${run.output()}`);
  assert.deepEqual(res, { code: 0, signal: null }, `run-balanced.sh's exit after Ctrl+C:\n${run.output()}`);
  assert.match(run.output(), /stopped 4 processes/);
  await assertAllGone(run);
});

// Ctrl+C in a terminal: the terminal sends SIGINT to make, the script and every process it
// started at once. GNU make, once its recipe has ended, dies of that SIGINT itself (as it does
// under `make run`; a shell shows status 130 and no more); make that started with SIGINT ignored
// exits with the recipe's status. Either way make prints no "make: *** … Error" line: the
// children stopping on the same signal are a clean stop, not one that stopped on its own.
for (const [how, wantExit] of [
  [{ make: true }, { code: null, signal: 'SIGINT' }],
  [{ make: true, sigintIgnored: true }, { code: 0, signal: null }],
]) {
  const started = how.sigintIgnored ? ' started with SIGINT ignored (in the background of a script)' : '';
  nodeTest(`DATABASE_URL=… make run-balanced${started}: SIGINT to its whole process group stops everything it started, and make reports no error`, { skip, timeout: 180_000 }, async (t) => {
    const run = await runBalanced(t, how.sigintIgnored ? 'run_balanced_make_ign' : 'run_balanced_make', how);
    assert.equal(run.started.length, 4, `what it says it started:\n${run.output()}`);
    process.kill(-run.pgid, 'SIGINT');
    const res = await within(run.exited, 30_000, () => `make run-balanced still running 30 s after SIGINT to its group:\n${run.output()}`);
    assert.deepEqual(res, wantExit, `make's exit after SIGINT to its group:\n${run.output()}`);
    assert.doesNotMatch(run.output(), /^make: \*\*\*.*/m, 'make reporting an error');
    assert.doesNotMatch(run.output(), /stopped \(status/, 'the script taking a process for one that stopped on its own');
    assert.match(run.output(), /stopped 4 processes/);
    await assertAllGone(run);
  });
}

// SIGTERM to one backend alone stops it cleanly (status 0), as the group's Ctrl+C stops all of
// them: the others still running is what makes it one that stopped on its own.
for (const [signal, status] of [['SIGKILL', 137], ['SIGTERM', 0]]) {
  nodeTest(`run-balanced.sh stops everything, with status 1 and the log of the one that stopped, when a backend alone gets ${signal}`, { skip, timeout: 90_000 }, async (t) => {
    const run = await runBalanced(t, `run_balanced_dies_${signal.toLowerCase()}`);
    const victim = run.started.find((s) => s.name === 'backend 2');
    assert.ok(victim, `no backend 2 in:\n${run.output()}`);
    process.kill(victim.pid, signal);
    const res = await within(run.exited, 30_000, () => `run-balanced.sh still running 30 s after backend 2 died:\n${run.output()}`);
    assert.deepEqual(res, { code: 1, signal: null }, run.output());
    assert.match(run.output(), new RegExp(`backend 2 stopped \\(status ${status}\\); its log \\(\\S+/backend-2\\.log\\) ends:\n[\\s\\S]*msg=listening addr=127\\.0\\.0\\.1:\\d+`));
    await assertAllGone(run);
  });
}

nodeTest('kill -USR1 restarts the backends one at a time (make run-balanced\'s rolling restart): every GET through nginx answers 200 meanwhile', { skip, timeout: 120_000 }, async (t) => {
  const run = await runBalanced(t, 'run_balanced_roll');
  const balancer = `http://127.0.0.1:${run.port}`;
  const before = run.started.filter((s) => s.name.startsWith('backend'));
  process.kill(run.pgid, 'SIGUSR1'); // the script alone, as `kill -USR1 <its pid>` does

  // Clients on six addresses (nginx hashes them over both backends) ask until the restart is
  // over: at most 60 s and 3,000 requests.
  const answers = [];
  const end = Date.now() + 60_000;
  while (!/restarted 2 backends/.test(run.output()) && Date.now() < end && answers.length < 3_000) {
    const localAddress = `127.0.0.${(answers.length % 6) + 1}`;
    try {
      const res = await request(`${balancer}/api/tweets?limit=1`, { localAddress });
      answers.push(res.status === 200 ? 200 : `${res.status} ${res.body}`);
    } catch (err) {
      answers.push(err.message);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(run.output(), /restarted 2 backends/, `the restart did not finish:\n${run.output()}`);
  assert.ok(answers.length >= 100, `only ${answers.length} requests during the restart`);
  assert.deepEqual(answers.filter((a) => a !== 200), [], `answers other than 200 among ${answers.length}:\n${run.output()}`);
  const after = [...run.output().matchAll(/(backend \d+) restarted: pid (\d+)/g)].map(([, name, pid]) => ({ name, pid: Number(pid) }));
  assert.deepEqual(after.map((a) => a.name), ['backend 1', 'backend 2'], run.output());
  for (const { name, pid } of before) {
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `the old ${name} (pid ${pid}) still runs`);
  }
  assert.equal((await request(`${balancer}/readyz`)).status, 200);

  run.started.push(...after);
  process.kill(-run.pgid, 'SIGINT');
  const res = await within(run.exited, 30_000, () => `run-balanced.sh still running 30 s after Ctrl+C:\n${run.output()}`);
  assert.deepEqual(res, { code: 0, signal: null }, run.output());
  await assertAllGone(run);
});

// The refusals come from `make run-balanced` itself, before it builds anything: its Go is
// `false` here, so reaching the build would fail without the message.
nodeTest('make run-balanced refuses without a PostgreSQL DATABASE_URL, and names the package when nginx is missing', { timeout: 30_000 }, async () => {
  const make = (env) => new Promise((resolve) => {
    execFile('make', ['-s', 'run-balanced', 'GO=false'], { cwd: root, env: { PATH: process.env.PATH, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, output: stdout + stderr }));
  });
  for (const [env, want] of [
    [{}, /DATABASE_URL is not set: several backends need one PostgreSQL/],
    [{ DATABASE_URL: 'sqlite:///tmp/chirp.db' }, /DATABASE_URL is not a PostgreSQL URL.*SQLite serves one process/],
    [{ DATABASE_URL: 'postgres://127.0.0.1:1/none', NGINX_BIN: '/nonexistent/nginx' }, /apt-get install nginx.*brew install nginx/],
  ]) {
    const { code, output } = await make(env);
    assert.notEqual(code, 0, `make run-balanced with ${JSON.stringify(env)} succeeded:\n${output}`);
    assert.match(output, want, `make run-balanced with ${JSON.stringify(env)}`);
  }
});
