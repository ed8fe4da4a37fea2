// One comparison script of backend/bench, end to end at a small size, exactly as
// docs/PERFORMANCE.md runs it: backend/bench/compare-fanout.sh builds the load tool, installs the
// Node peer from its lock file, runs the real binary and the peer each on a fresh PostgreSQL
// database of TEST_DATABASE_URL's server, and prints a line per run and the ratio line. Speed is
// not asserted (the machine is shared): every event delivered, numbers that are numbers, and a
// ratio that is the quotient of the two p99s it printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chirpBin } from './support/server.js';
import { postgresSkip } from './support/postgres.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLIENTS = 50;
const TWEETS = 3;
// A cold build of the load tool and a cold npm ci are most of this on a busy machine.
const LIMIT_MS = 110_000;

/**
 * runScript runs a backend/bench script in its own process group and resolves to its exit code
 * and output; past LIMIT_MS the group (the script, its servers and the load tool) is ended.
 */
function runScript(script, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(repo, 'backend/bench', script), args, {
      cwd: repo, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s) => { output += s; });
    child.stderr.setEncoding('utf8').on('data', (s) => { output += s; });
    const timer = setTimeout(() => {
      process.kill(-child.pid, 'SIGTERM');
      reject(new Error(`${script} still running after ${LIMIT_MS} ms; its output:\n${output}`));
    }, LIMIT_MS);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

const number = '(-?\\d+(?:\\.\\d+)?)';
const runLine = (name) => new RegExp(`^${name}\\s+delivered (\\d+)/(\\d+)\\s+p50 ${number}\\s+p99 ${number}\\s+max ${number} ms` +
  `\\s+RSS idle ${number} MiB, connected ${number} MiB, ${number} KiB/conn`, 'm');

test('compare-fanout.sh runs Chirp and the Node peer and prints their p99 ratio', {
  skip: postgresSkip, timeout: LIMIT_MS + 10_000,
}, async () => {
  if (!process.env.TEST_DATABASE_URL) throw new Error('CHIRP_REQUIRE_POSTGRES is set but TEST_DATABASE_URL is not');
  const { code, output } = await runScript('compare-fanout.sh', [chirpBin, String(CLIENTS), String(TWEETS), '1'], {
    DATABASE_URL: process.env.TEST_DATABASE_URL,
  });
  assert.equal(code, 0, `compare-fanout.sh exited ${code}:\n${output}`);

  const p99 = {};
  for (const name of ['chirp', 'node-peer']) {
    const m = runLine(name).exec(output);
    assert.ok(m, `no result line for ${name} in:\n${output}`);
    const [delivered, expected, p50, p99ms, max, idleMiB] = m.slice(1, 7).map(Number);
    assert.equal(expected, CLIENTS * TWEETS, `${name}: expected deliveries\n${output}`);
    assert.equal(delivered, expected, `${name}: every client gets every event\n${output}`);
    assert.ok(p50 > 0 && p50 <= p99ms && p99ms <= max, `${name}: 0 < p50 <= p99 <= max\n${output}`);
    assert.ok(idleMiB > 0, `${name}: the server's idle RSS was read\n${output}`);
    p99[name] = p99ms;
  }

  const m = new RegExp(`^p99 ratio chirp/node-peer: ${number}\\s+KiB/conn ratio: ${number}$`, 'm').exec(output);
  assert.ok(m, `no ratio line in:\n${output}`);
  const ratio = Number(m[1]);
  // The p99s are printed to 0.1 ms and the ratio to 0.01: it must lie within what that rounding allows.
  const low = (p99.chirp - 0.05) / (p99['node-peer'] + 0.05) - 0.005;
  const high = (p99.chirp + 0.05) / (p99['node-peer'] - 0.05) + 0.005;
  assert.ok(ratio >= low && ratio <= high, `ratio ${ratio} is not ${p99.chirp} / ${p99['node-peer']}\n${output}`);
  assert.ok(Number.isFinite(Number(m[2])), `KiB/conn ratio ${m[2]} is a number`);
});
