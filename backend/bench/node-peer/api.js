// Chirp's HTTP API (docs/API.md) as an express app, written the way the stack's users write it:
// cors() and express.json() in front, async handlers, one error handler at the end. What Chirp
// adds on top (edit tokens, Idempotency-Key, rate limits, min_id, Link headers) is left out: the
// comparisons measure the list and the create, and those behave here as Chirp's do.
import cors from 'cors';
import express from 'express';

/** ApiError is a problem the client caused, answered with its status and Chirp's error code. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const notFound = () => new ApiError(404, 'not_found', 'tweet not found');

// An id is a decimal int64 that PostgreSQL compares as bigint: it is passed on as text, so ids
// past 2^53 are never rounded on the way.
const INT64_MAX = 2n ** 63n - 1n;
function parseId(value, name) {
  if (value === undefined) return null;
  if (typeof value !== 'string' || !/^\d{1,19}$/.test(value) || BigInt(value) > INT64_MAX) {
    throw new ApiError(400, 'bad_request', `${name} must be an integer from 0 to ${INT64_MAX}`);
  }
  return value;
}

function parseLimit(value) {
  if (value === undefined) return 20;
  if (typeof value !== 'string' || !/^\d{1,3}$/.test(value) || Number(value) < 1 || Number(value) > 100) {
    throw new ApiError(400, 'bad_request', 'limit must be an integer from 1 to 100');
  }
  return Number(value);
}

// Lengths count characters (code points), as Chirp and PostgreSQL's char_length do, not UTF-16
// units: an emoji is one.
function requireText(body, field, max) {
  const value = body[field];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ApiError(422, 'invalid', `${field} must be a non-empty string`);
  }
  if ([...value].length > max) {
    throw new ApiError(422, 'invalid', `${field} must be at most ${max} characters`);
  }
  return value;
}

function jsonObject(req) {
  // express.json() leaves other media types unparsed, so this is where they are refused.
  if (!req.is('application/json')) {
    throw new ApiError(415, 'unsupported_media_type', 'Content-Type must be application/json');
  }
  if (req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
    throw new ApiError(400, 'bad_request', 'the body must be a JSON object');
  }
  return req.body;
}

// What body-parser's own errors mean in Chirp's vocabulary.
const PARSER_ERRORS = {
  'entity.parse.failed': [400, 'bad_request', 'the body is not valid JSON'],
  'entity.too.large': [413, 'too_large', 'the body is larger than 16 KiB'],
  'charset.unsupported': [415, 'unsupported_media_type', 'the body must be UTF-8'],
  'encoding.unsupported': [415, 'unsupported_media_type', 'unsupported Content-Encoding'],
};

/**
 * createApi returns the express app. tweets is the store (tweets.js); events is told what
 * committed: newTweet() after a create, tweetUpdated(id) and tweetDeleted(id) after an edit
 * and a delete, each once the answer is on its way, as Chirp announces only what committed.
 */
export function createApi({ tweets, events, log }) {
  const app = express();
  app.disable('x-powered-by');
  app.use(cors());
  app.use(express.json({ limit: '16kb' }));

  app.get('/healthz', (req, res) => res.json({ status: 'ok' }));
  app.get('/readyz', async (req, res) => {
    try {
      await tweets.ready();
    } catch {
      throw new ApiError(503, 'unavailable', 'not ready: the database does not answer');
    }
    res.json({ status: 'ready' });
  });

  app.get('/api/tweets', async (req, res) => {
    const query = {
      limit: parseLimit(req.query.limit),
      maxId: parseId(req.query.max_id, 'max_id'),
      sinceId: parseId(req.query.since_id, 'since_id'),
    };
    res.json(await tweets.list(query));
  });

  app.post('/api/tweets', async (req, res) => {
    const body = jsonObject(req);
    const draft = { author: requireText(body, 'author', 50), content: requireText(body, 'content', 280) };
    const tweet = await tweets.create(draft);
    res.status(201).location(`/api/tweets/${tweet.id}`).json(tweet);
    events.newTweet();
  });

  app.get('/api/tweets/:id', async (req, res) => {
    const tweet = await tweets.get(parseId(req.params.id, 'id'));
    if (!tweet) throw notFound();
    res.json(tweet);
  });

  app.patch('/api/tweets/:id', async (req, res) => {
    const id = parseId(req.params.id, 'id');
    const tweet = await tweets.edit(id, requireText(jsonObject(req), 'content', 280));
    if (!tweet) throw notFound();
    res.json(tweet);
    events.tweetUpdated(tweet.id);
  });

  app.delete('/api/tweets/:id', async (req, res) => {
    const id = parseId(req.params.id, 'id');
    if (!(await tweets.remove(id))) throw notFound();
    res.status(204).end();
    events.tweetDeleted(Number(id));
  });

  app.use(() => {
    throw new ApiError(404, 'not_found', 'no such route');
  });

  // The one place a problem becomes a status and a body. Express 5 brings rejected promises of
  // async handlers here too; anything unexpected is logged and answered without its details.
  app.use((err, req, res, next) => {
    if (res.headersSent) return next(err);
    let [status, code, message] = PARSER_ERRORS[err.type] ?? [];
    if (err instanceof ApiError) [status, code, message] = [err.status, err.code, err.message];
    if (!status) {
      log(`${req.method} ${req.path}: ${err.stack ?? err}`);
      [status, code, message] = [500, 'internal', 'internal server error'];
    }
    res.status(status).json({ error: { code, message } });
  });
  return app;
}
