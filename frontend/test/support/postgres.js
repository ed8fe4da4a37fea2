// A fresh PostgreSQL database for a test that runs the real binary, as backend/internal/testdb
// gives each Go test one: created with psql in the server TEST_DATABASE_URL names, dropped after.
// Names start with chirp_test_, so CI's cleanup finds what a killed run left behind.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { sleep } from './wait.js';

const run = promisify(execFile);

/**
 * Why PostgreSQL tests are skipped here, or false when they run. As in the Go tests, a missing
 * TEST_DATABASE_URL skips them unless CHIRP_REQUIRE_POSTGRES is set (CI), where
 * createPostgresDatabase fails the test instead.
 */
export const postgresSkip = !process.env.TEST_DATABASE_URL && !process.env.CHIRP_REQUIRE_POSTGRES &&
  'PostgreSQL tests skipped: set TEST_DATABASE_URL (for example postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)';

/**
 * createPostgresDatabase makes an empty database named chirp_test_<tag>_<random> and returns
 * {url, drop()}: url is TEST_DATABASE_URL with that database in its path.
 */
export async function createPostgresDatabase(tag) {
  const admin = process.env.TEST_DATABASE_URL;
  if (!admin) throw new Error('CHIRP_REQUIRE_POSTGRES is set but TEST_DATABASE_URL is not: PostgreSQL tests cannot run');
  const name = `chirp_test_${tag}_${randomBytes(6).toString('hex')}`;
  await psql(admin, `CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => psql(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** queryPostgres runs sql in the database at url and returns its rows, unaligned (psql -At). */
export async function queryPostgres(url, sql) {
  return psql(url, sql, ['-At']);
}

async function psql(url, sql, flags = []) {
  try {
    const { stdout } = await run('psql', ['-X', '-q', ...flags, '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
      timeout: 30_000,
      env: { ...process.env, PGCONNECT_TIMEOUT: '10' },
    });
    return stdout.trim();
  } catch (err) {
    throw new Error(`psql ${JSON.stringify(sql)}: ${err.stderr?.trim() || err.message}`, { cause: err });
  }
}

/**
 * deafen makes a chirp process deaf to the others: the database stops taking new connections
 * and the process's event bus listener (named in its `event bus listening` log record) is
 * ended, so it cannot listen again, while every connection already open (its pool, the other
 * processes') goes on working. It waits until the process says it is not ready, and returns a
 * function that lets the database take connections again (the process then hears again); only
 * its first call does anything, so it can also be a cleanup that runs after the database is gone.
 */
export async function deafen(db, server) {
  const name = new URL(db.url).pathname.slice(1);
  const admin = process.env.TEST_DATABASE_URL;
  let allowed = null;
  const allow = () => (allowed ??= psql(admin, `ALTER DATABASE ${name} ALLOW_CONNECTIONS true`));
  const listener = /msg="event bus listening".*application_name="([^"]+)"/.exec(server.logs())?.[1];
  if (!listener) throw new Error(`no event bus listening record:\n${server.logs()}`);
  await psql(admin, `ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
  try {
    const ended = await queryPostgres(admin,
      `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '${listener}' AND datname = '${name}'`);
    if (ended !== '1') throw new Error(`${ended} listeners named ${listener} ended, want 1`);
    for (const deadline = Date.now() + 5000; (await fetch(`${server.url}/readyz`)).status !== 503;) {
      if (Date.now() > deadline) throw new Error('the process is still ready 5 s after its listener was ended');
      await sleep(20);
    }
  } catch (err) {
    await allow();
    throw err;
  }
  return allow;
}
