// The tweets table through one pg.Pool: plain SQL, one query per call, as the express +
// socket.io tutorials this peer stands for do it. No batching and no ordering guarantee beyond
// what PostgreSQL gives: that is the baseline Chirp's single writer is measured against.
import pg from 'pg';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tweets (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  author     text        NOT NULL CHECK (char_length(author) BETWEEN 1 AND 50),
  content    text        NOT NULL CHECK (char_length(content) BETWEEN 1 AND 280),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
)`;
// The primary key's btree, scanned backwards, serves "newest first below max_id": a second index
// on id DESC would only slow the inserts.

const COLUMNS = 'id, author, content, created_at, updated_at';

// bigint arrives as a string by default (it may pass 2^53); ids here stay far below that, and
// Chirp answers them as JSON numbers. Given to this pool only, not set on pg's shared parsers.
const types = {
  getTypeParser(oid, format) {
    return oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format);
  },
};

/**
 * openTweets connects to databaseUrl, creates the table if it is missing and returns the
 * store: list, create, get, edit and remove resolve to tweets (or null / false when the id is
 * not there); close ends the pool.
 */
export async function openTweets(databaseUrl) {
  const pool = new pg.Pool({ connectionString: databaseUrl, types });
  try {
    await pool.query(SCHEMA);
  } catch (err) {
    await pool.end();
    throw new Error(`creating the tweets table: ${err.message}`, { cause: err });
  }
  const one = async (sql, params) => (await pool.query(sql, params)).rows[0] ?? null;
  return {
    /** list: newest first, ids below maxId and above sinceId (either may be null). */
    async list({ limit, maxId, sinceId }) {
      const { rows } = await pool.query(
        `SELECT ${COLUMNS} FROM tweets
          WHERE ($1::bigint IS NULL OR id < $1) AND ($2::bigint IS NULL OR id > $2)
          ORDER BY id DESC LIMIT $3`,
        [maxId, sinceId, limit],
      );
      return rows;
    },
    create: ({ author, content }) =>
      one(`INSERT INTO tweets (author, content) VALUES ($1, $2) RETURNING ${COLUMNS}`, [author, content]),
    get: (id) => one(`SELECT ${COLUMNS} FROM tweets WHERE id = $1`, [id]),
    edit: (id, content) =>
      one(`UPDATE tweets SET content = $2, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [id, content]),
    async remove(id) {
      return (await pool.query('DELETE FROM tweets WHERE id = $1', [id])).rowCount > 0;
    },
    /** ready: whether the database answers, for /readyz. */
    async ready() {
      await pool.query('SELECT 1');
    },
    close: () => pool.end(),
  };
}
