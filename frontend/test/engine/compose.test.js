// `docker compose up`, run for real: the repository's compose files, Dockerfile and
// nginx templates through the real `docker compose` CLI and a Docker engine, and the real page
// in two Chromium tabs through the containers. Run by `make test-compose`
// (deploy/engine/test-compose.sh), which finds the engine, builds the stand-in images where
// STANDIN_IMAGES=1 and sets POSTGRES_IMAGE, NGINX_IMAGE, GO_IMAGE and RUNTIME_IMAGE to them;
// without those variables the official images are used.
//
// The steps build on each other (one project, one database), so they are one test of ordered
// steps; the first that fails stops the rest, and prints `docker compose ps` and the logs of the
// services that are not healthy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../support/browser.js';
import { openChirp, listAll, apiRequest } from '../support/page.js';
import { until, sleep } from '../support/wait.js';
import { assertClean } from '../support/e2e.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// Its own project name: a user's own `chirp` project on this machine is left alone.
const project = process.env.CHIRP_COMPOSE_PROJECT || 'chirp-enginetest';
const base = ['docker-compose.yml'];
const scale = ['docker-compose.yml', 'docker-compose.scale.yml'];
const scratch = mkdtempSync(path.join(tmpdir(), 'chirp-compose-'));
const noEnvFile = path.join(scratch, 'empty.env');
writeFileSync(noEnvFile, '');
const run = Math.random().toString(36).slice(2, 8);

// Compose sees only these of this process's variables: the images, and what reaches the engine.
// Anything else (a developer's BACKEND_PORT, say) would change what is tested.
const passed = ['PATH', 'HOME', 'DOCKER_HOST', 'DOCKER_CONFIG', 'DOCKER_BUILDKIT', 'POSTGRES_IMAGE', 'NGINX_IMAGE',
  'GO_IMAGE', 'RUNTIME_IMAGE', 'CHIRP_BACKEND_RESOLVE'];
const composeEnv = Object.fromEntries(passed.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));

/** sh runs a command; returns {code, out} (stdout and stderr together), or throws when check and it failed. */
function sh(cmd, args, { timeout = 60_000, check = true, env = composeEnv } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const res = { code: code ?? signal, out };
      if (check && code !== 0) reject(new Error(`${cmd} ${args.join(' ')}: ${signal ? `killed (${signal}) after ${timeout} ms` : `exit ${code}`}\n${out}`));
      else resolve(res);
    });
  });
}

/** compose runs `docker compose` on the repository's files with only envFile's variables. */
function compose(files, args, { envFile = noEnvFile, ...opts } = {}) {
  const fileArgs = files.flatMap((f) => ['-f', path.join(repo, f)]);
  return sh('docker', ['compose', '-p', project, '--project-directory', repo, '--env-file', envFile, ...fileArgs, ...args], opts);
}

/** services reads `docker compose ps -a`: one entry per container, {Service, State, Health, Publishers, ID, Name}. */
async function services(files, envFile) {
  const { out } = await compose(files, ['ps', '-a', '--format', 'json'], { envFile });
  const text = out.trim();
  if (!text) return [];
  return text.startsWith('[') ? JSON.parse(text) : text.split('\n').map((l) => JSON.parse(l));
}

/** up starts the project and waits for every service to be healthy. */
async function up(files, envFile, extra = []) {
  // --build: the backend image is built from the working tree, never a stale one from a
  // previous run (the layer cache keeps it quick when nothing changed).
  await compose(files, ['up', '-d', '--wait', '--wait-timeout', '240', ...extra], { envFile, timeout: 1_500_000 });
}

/** report prints `docker compose ps` and the logs of every service that is not running healthy. */
async function report(files, envFile) {
  const lines = [];
  try {
    lines.push((await compose(files, ['ps', '-a'], { envFile, check: false })).out);
    const bad = new Set();
    for (const s of await services(files, envFile)) {
      if (s.State !== 'running' || (s.Health && s.Health !== 'healthy')) bad.add(s.Service);
    }
    // Nothing visibly unhealthy: the failure is in what they answered, so every service's logs.
    const names = bad.size ? [...bad] : [];
    const logs = await compose(files, ['logs', '--no-color', '--tail', '200', ...names], { envFile, check: false });
    lines.push(`logs of ${names.length ? names.join(', ') : 'every service'}:\n${logs.out}`);
  } catch (err) {
    lines.push(`could not read compose's state: ${err.message}`);
  }
  console.error(lines.join('\n'));
}

let failedStep = null;
// CHIRP_COMPOSE_STEPS=1,6 runs those steps alone (to try one breakage of the compose files
// quickly); each step then starts from what the ones it needs would have left.
const only = process.env.CHIRP_COMPOSE_STEPS ? process.env.CHIRP_COMPOSE_STEPS.split(',') : null;
/**
 * step runs fn as a subtest; on failure prints compose's state for files first. A step after a
 * failed one is skipped: each builds on what the ones before left.
 */
async function step(t, name, files, fn, envFile) {
  const number = name.split(' ')[0].replace(/\.$/, '');
  let skip;
  if (failedStep) skip = `step ${failedStep} failed`;
  else if (only && !only.includes(number)) skip = 'not in CHIRP_COMPOSE_STEPS';
  await t.test(name, skip ? { skip } : {}, async () => {
    try {
      await fn();
    } catch (err) {
      failedStep = number;
      await report(files, envFile);
      throw err;
    }
  });
}

/** getText fetches url; returns {status, text}. */
async function getText(url, headers = {}) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, text: await res.text() };
}

/** left lists what the project has on the engine: containers, networks, volumes. */
async function left() {
  const label = `label=com.docker.compose.project=${project}`;
  const out = [];
  for (const [kind, args] of [['container', ['ps', '-aq', '--filter', label]], ['network', ['network', 'ls', '-q', '--filter', label]],
    ['volume', ['volume', 'ls', '-q', '--filter', label]]]) {
    const { out: ids } = await sh('docker', args);
    for (const id of ids.split('\n').filter(Boolean)) out.push(`${kind} ${id}`);
  }
  return out;
}

async function volumes() {
  return new Set((await sh('docker', ['volume', 'ls', '-q'])).out.split('\n').filter(Boolean));
}

/** postThrough posts a tweet through the API at apiUrl, retrying while it is not back yet. */
async function postThrough(apiUrl, content) {
  let last;
  const res = await until(async () => {
    last = await apiRequest(apiUrl, 'POST', '/api/tweets', { body: { author: 'compose', content } }).catch((e) => ({ status: e.message }));
    return last.status === 201 && last;
  }, `POST ${apiUrl}/api/tweets (last: ${JSON.stringify(last)})`, 60_000, 500);
  return res.body;
}

/** catchUp waits until tab shows "Show 1 new tweet" for a tweet it missed, clicks it, and sees the tweet. */
async function catchUp(tab, id) {
  await tab.waitForButton('Show 1 new tweet', 60_000);
  await tab.button().click();
  await until(async () => (await tab.ids()).includes(id), `${tab.name} shows tweet ${id}`, 10_000);
}

/** twoTabStory: a post in a shows the button in b, the click shows it; a's edit and delete reach b. */
async function twoTabStory(a, b, label) {
  const id = await a.post(`${label}: first version ${run}`, { author: 'Ann' });
  await catchUp(b, id);
  await b.page.evaluate(() => { window.__noReload = true; });
  const liA = a.tweet(id);
  await liA.locator('[data-action=edit]').click();
  await liA.locator('textarea.edit-box').fill(`${label}: second version ${run}`);
  await liA.locator('[data-action=save]').click();
  await until(async () => {
    const t = (await b.tweets()).find((x) => x.id === id);
    return t && t.content === `${label}: second version ${run}` && t.edited;
  }, `${label}: B shows A's edit, marked "edited"`, 15_000);
  await liA.locator('[data-action=delete]').click();
  const dialog = a.page.locator('#confirm-delete');
  await until(() => dialog.evaluate((d) => d.open), 'the confirm dialog opens');
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await until(async () => !(await b.ids()).includes(id), `${label}: B no longer shows the deleted tweet`, 15_000);
  assert.equal(await b.page.evaluate(() => window.__noReload), true, 'B was not reloaded');
}

/** connectedAgain waits until tab says "Reconnecting…" has gone and its socket is connected. */
async function connectedAgain(tab, timeout = 90_000) {
  await until(async () => (await tab.connection()).connected && await tab.page.isHidden('#connection'), `${tab.name}: connected again`, timeout, 200);
}

test('docker compose up, for real: the page, the API and the database in containers', { timeout: 2_400_000 }, async (t) => {
  const volumesBefore = await volumes();
  const browser = await launchBrowser();
  const tabs = [];
  const open = async (url, name) => {
    const h = await openChirp(browser, url, { name });
    tabs.push(h);
    return h;
  };
  const closeTabs = async () => {
    while (tabs.length) await tabs.pop().close();
  };
  t.after(async () => {
    await closeTabs();
    await browser.close();
    for (const files of [scale, base]) await compose(files, ['down', '-v', '--remove-orphans', '--timeout', '5'], { check: false, timeout: 120_000 });
    rmSync(scratch, { recursive: true, force: true });
  });
  // A previous run killed before its cleanup.
  await compose(scale, ['down', '-v', '--remove-orphans', '--timeout', '5'], { check: false, timeout: 120_000 });

  const api = 'http://localhost:8000';
  const page = 'http://localhost:3000';
  const kept = [];

  await step(t, '1. up --wait with the plain file and no .env: every service healthy, the page on :3000, the API on :8000', base, async () => {
    await up(base, noEnvFile, ['--build']);
    const ps = await services(base);
    assert.deepEqual(ps.map((s) => s.Service).sort(), ['backend', 'db', 'frontend'], 'the services');
    for (const s of ps) assert.equal(`${s.State}/${s.Health}`, 'running/healthy', `${s.Service} is not healthy: ${JSON.stringify(s)}`);
    const config = await getText(`${page}/config.js`);
    assert.equal(config.status, 200);
    assert.match(config.text, /"apiUrl":"http:\/\/localhost:8000"/, 'config.js points the page at the API');
    assert.match((await getText(`${page}/`)).text, /<title>/, 'the page itself');
    assert.equal((await getText(`${api}/readyz`)).status, 200, 'the API is ready');
  });

  await step(t, '1b. the backend image runs on its own, with no DATABASE_URL (SQLite in its working folder)', base, async () => {
    const [backend] = (await services(base)).filter((s) => s.Service === 'backend');
    const image = (await sh('docker', ['inspect', '-f', '{{.Config.Image}}', backend.ID])).out.trim();
    const name = `${project}-alone-${run}`;
    await sh('docker', ['run', '-d', '--rm', '--name', name, '-p', '127.0.0.1::8000', image]);
    try {
      const port = await until(async () => {
        const { out } = await sh('docker', ['port', name, '8000'], { check: false });
        return out.trim().split(':').pop();
      }, 'the published port', 10_000, 200);
      await until(async () => (await getText(`http://127.0.0.1:${port}/readyz`)).status === 200, 'the image alone answers /readyz', 30_000, 300)
        .catch(async (err) => {
          const logs = (await sh('docker', ['logs', name], { check: false })).out;
          throw new Error(`${err.message}\nits logs:\n${logs}`);
        });
      const created = await apiRequest(`http://127.0.0.1:${port}`, 'POST', '/api/tweets', { body: { author: 'alone', content: 'stored in /data' } });
      assert.equal(created.status, 201, `a post to the image alone: ${JSON.stringify(created)}`);
    } finally {
      await sh('docker', ['rm', '-f', '-v', name], { check: false });
    }
  });

  let a;
  let b;
  await step(t, '2. two tabs on :3000: a post shows "Show 1 new tweet" in the other; an edit and a delete reach it', base, async () => {
    a = await open(page, 'A');
    b = await open(page, 'B');
    await twoTabStory(a, b, 'compose');
    kept.push(await a.post(`kept through restarts ${run}`, { author: 'Ann' }));
    await catchUp(b, kept[0]);
  });

  await step(t, '3. restart backend: both tabs say "Reconnecting…", then catch up without a reload', base, async () => {
    for (const tab of [a, b]) await tab.page.evaluate(() => { window.__noReload = true; });
    const restarting = compose(base, ['restart', 'backend'], { timeout: 120_000 });
    for (const tab of [a, b]) {
      await until(async () => (await tab.page.textContent('#connection')) === 'Reconnecting…' && await tab.page.isVisible('#connection'),
        `${tab.name} says "Reconnecting…"`, 60_000, 50);
    }
    await restarting;
    // Through the API as soon as it answers again: the tabs may not have reconnected yet.
    const tweet = await postThrough(api, `posted while the tabs were away ${run}`);
    kept.push(tweet.id);
    for (const tab of [a, b]) {
      await connectedAgain(tab);
      await catchUp(tab, tweet.id);
      assert.equal(await tab.page.evaluate(() => window.__noReload), true, `${tab.name} was reloaded`);
    }
  });

  await step(t, '4. down, then up --wait: every tweet is still there (the named volume)', base, async () => {
    await closeTabs();
    // One more, made through the API: with CHIRP_COMPOSE_STEPS the steps before may not have run.
    kept.push((await postThrough(api, `kept through down and up ${run}`)).id);
    await compose(base, ['down', '--timeout', '20'], { timeout: 120_000 });
    await up(base, noEnvFile);
    const ids = (await listAll(api)).map((x) => x.id);
    for (const id of kept) assert.ok(ids.includes(id), `tweet ${id} is gone after down and up (ids now: ${ids.join(', ')})`);
    const tab = await open(page, 'C');
    for (const id of kept) assert.ok((await tab.ids()).includes(id), `the page does not show tweet ${id} after down and up`);
    await compose(base, ['down', '-v', '--timeout', '20'], { timeout: 120_000 });
    await closeTabs();
    assert.deepEqual(await left(), [], 'down -v left something of the project');
  });

  const envFile = path.join(scratch, '.env');
  await step(t, '5. cp .env.example .env with another password and ports: the page follows the moved API port', base, async () => {
    let env = readFileSync(path.join(repo, '.env.example'), 'utf8');
    for (const [name, value] of [['POSTGRES_PASSWORD', `changed-${run}`], ['BACKEND_PORT', '18000'], ['FRONTEND_PORT', '13000']]) {
      const before = env;
      env = env.replace(new RegExp(`^${name}=.*$`, 'm'), `${name}=${value}`);
      assert.notEqual(env, before, `.env.example has no ${name}= line`);
    }
    writeFileSync(envFile, env);
    await up(base, envFile);
    const ps = await services(base, envFile);
    for (const s of ps) assert.equal(`${s.State}/${s.Health}`, 'running/healthy', `${s.Service} is not healthy: ${JSON.stringify(s)}`);
    assert.match((await getText('http://localhost:13000/config.js')).text, /"apiUrl":"http:\/\/localhost:18000"/,
      'config.js does not follow BACKEND_PORT');
    const c = await open('http://localhost:13000', 'moved');
    const id = await c.post(`on moved ports ${run}`, { author: 'Moved' });
    assert.equal((await apiRequest('http://localhost:18000', 'GET', `/api/tweets/${id}`)).status, 200, 'the post reached the API on :18000');
    assertClean(c);
    await closeTabs();
    await compose(base, ['down', '-v', '--timeout', '20'], { envFile, timeout: 120_000 });
  }, envFile);

  await step(t, '6. the scale file: three unpublished replicas behind the balancer; a tab follows a killed replica', scale, async () => {
    await up(scale, noEnvFile);
    const ps = await services(scale);
    const replicas = ps.filter((s) => s.Service === 'backend');
    assert.equal(replicas.length, 3, 'three backend replicas');
    for (const s of ps) assert.equal(`${s.State}/${s.Health}`, 'running/healthy', `${s.Service} is not healthy: ${JSON.stringify(s)}`);
    for (const r of replicas) {
      assert.deepEqual((r.Publishers ?? []).filter((p) => p.PublishedPort), [], `replica ${r.Name} publishes a port`);
    }
    // One client's polling sessions each stay on the replica holding them (with `hash …
    // consistent` nginx takes turns among the replicas of `backend:8000`, and the request after
    // a handshake reaches one that answers 400). A ping ("1:2") answers 200 only where the
    // session lives; a close ("1:1") then ends it, so it counts in no replica's sessions below.
    const polling = `${api}/socket.io/?EIO=3&transport=polling`;
    const send = (sid, packet) => fetch(`${polling}&sid=${encodeURIComponent(sid)}`, {
      method: 'POST', headers: { 'Content-Type': 'text/plain;charset=UTF-8' }, body: packet, signal: AbortSignal.timeout(10_000),
    });
    for (let i = 0; i < 6; i++) {
      const { status, text } = await getText(polling);
      const sid = text.match(/"sid":"([^"]+)"/)?.[1];
      assert.ok(status === 200 && sid, `polling handshake ${i}: ${status} ${text}`);
      const ping = await send(sid, '1:2');
      assert.equal(ping.status, 200, `polling session ${i}'s next request: ${ping.status} ${await ping.text()}`);
      await (await send(sid, '1:1')).text();
    }
    // Inside the network: every replica ready, and how many sockets each holds.
    const inBalancer = (url, headers = []) => compose(scale, ['exec', '-T', 'balancer', 'wget', '-q', '-O', '-', ...headers.flatMap((h) => ['--header', h]), url]);
    const address = async (id) => (await sh('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id])).out.trim();
    for (const r of replicas) {
      r.ip = await address(r.ID);
      await inBalancer(`http://${r.ip}:8000/readyz`); // wget fails on anything but 2xx
    }
    const sessions = async (r) => Number((await inBalancer(`http://${r.ip}:9090/metrics`)).out.match(/^chirp_socket_sessions (\d+)/m)?.[1] ?? -1);

    a = await open(page, 'A');
    b = await open(page, 'B');
    await twoTabStory(a, b, 'scale');
    // The replica holding the most of the tabs' sessions.
    let seen = {};
    const on = await until(async () => {
      seen = {};
      for (const r of replicas) seen[r.Name] = await sessions(r);
      const most = replicas.reduce((m, r) => (seen[r.Name] > seen[m.Name] ? r : m));
      return seen[most.Name] >= 1 && most;
    }, 'a replica holding a tab\'s session', 10_000, 200).catch((err) => {
      throw new Error(`${err.message}; sessions per replica: ${JSON.stringify(seen)}`);
    });
    await sh('docker', ['kill', on.ID]);
    for (const tab of [a, b]) await connectedAgain(tab);
    const tweet = await postThrough(api, `after a replica was killed ${run}`);
    for (const tab of [a, b]) await catchUp(tab, tweet.id);
    for (const tab of [a, b]) assertClean(tab, { allow: [/socket\.io|ERR_|net::|Failed to load resource/] });

    // The replicas believe the balancer's X-Forwarded-For (TRUSTED_PROXIES): a request made from
    // the frontend's container is logged with that container's address, not the balancer's.
    const [frontend] = ps.filter((s) => s.Service === 'frontend');
    const from = await address(frontend.ID);
    const requestId = `compose-${run}-xff`;
    await compose(scale, ['exec', '-T', 'frontend', 'wget', '-q', '-O', '/dev/null', '--header', `X-Request-ID: ${requestId}`, 'http://balancer:8000/api/tweets?limit=1']);
    const logLine = await until(async () => {
      const { out } = await compose(scale, ['logs', '--no-color', 'backend']);
      return out.split('\n').find((l) => l.includes(requestId));
    }, `a replica's log record of request ${requestId}`, 15_000, 500);
    assert.match(logLine, new RegExp(`client=${from.replaceAll('.', '\\.')}(\\s|$)`), `the replica logged another client than ${from}: ${logLine}`);
    await closeTabs();
    await compose(scale, ['down', '-v', '--timeout', '20'], { timeout: 120_000 });
  });

  await step(t, '7. nothing of the run is left: containers, networks, volumes', base, async () => {
    assert.deepEqual(await left(), [], 'labelled leftovers');
    const extra = [...await volumes()].filter((v) => !volumesBefore.has(v));
    assert.deepEqual(extra, [], 'volumes made by the run and never removed');
  });
});
