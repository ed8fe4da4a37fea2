// A fresh PostgreSQL database for a test that runs the real binary, as backend/internal/testdb
// gives each Go test one: created with psql in the server TEST_DATABASE_URL names, dropped after.
// Names start with chirp_test_, so CI's cleanup finds what a killed run left behind.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

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
