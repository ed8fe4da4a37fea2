// Unit tests of the page's logic that needs no browser: counting exactly as the server does
// (the server's own vectors), the composer's messages for each problem, the avatar letter,
// relative time, links, the new-tweets label, the coalescing of checks, and the store's
// bookkeeping of pages and one's own posts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  cleanText, textLength, textProblem, charactersLeft, relativeTime, newTweetsLabel, linkParts,
  fieldMessage, avatarLetter, MAX_CONTENT, MAX_AUTHOR,
} from '../public/js/format.js';
import { Coalescer } from '../public/js/coalesce.js';
import { TweetStore } from '../public/js/store.js';
import { Api } from '../public/js/api.js';
import { recheck, isNewer, RECHECK_PAGE } from '../public/js/recheck.js';

const rules = JSON.parse(readFileSync(new URL('../../docs/text-rules.json', import.meta.url), 'utf8'));

test('the limits are the server\'s', () => {
  assert.equal(rules.limits.content, MAX_CONTENT);
  assert.equal(rules.limits.author, MAX_AUTHOR);
});

for (const v of rules.vectors) {
  test(`text rule: ${v.name}`, () => {
    const clean = cleanText(v.input);
    const multiline = v.field === 'content';
    const problem = textProblem(clean, multiline ? MAX_CONTENT : MAX_AUTHOR, multiline);
    if (v.valid) {
      assert.equal(problem, '', `valid input judged ${problem}`);
      assert.equal(clean, v.stored);
      assert.equal(textLength(clean), v.length);
    } else {
      assert.equal(problem, v.problem);
    }
  });
}

test('the counter counts code points after cleaning', () => {
  assert.equal(charactersLeft(''), 280);
  assert.equal(charactersLeft('😀'.repeat(281)), -1); // 562 UTF-16 units, 281 characters
  assert.equal(charactersLeft('e\u0301'.repeat(280)), 0); // 560 code points before NFC
  assert.equal(charactersLeft('  hi  '), 278);
  assert.equal(charactersLeft('\u200bhi\u2060'), 276); // invisible characters are kept and counted
});

test('every problem textProblem can return has its own message under each field', () => {
  const unknown = { name: fieldMessage('name', 'not_a_problem', 'x'), text: fieldMessage('text', 'not_a_problem', 'x') };
  for (const field of ['name', 'text']) {
    assert.equal(fieldMessage(field, '', 'fine'), '', 'no problem, no message');
    for (const problem of Object.keys(rules.problems)) {
      const m = fieldMessage(field, problem, 'x');
      assert.match(m, field === 'name' ? /^Name / : /^Text /, `${field} ${problem}`);
      assert.notEqual(m, unknown[field], `${field} ${problem} has a message of its own, not the fallback`);
    }
  }
  for (const v of rules.vectors.filter((x) => !x.valid)) {
    assert.ok(v.problem in rules.problems, `${v.name}: ${v.problem} is listed in problems`);
    const clean = cleanText(v.input);
    assert.notEqual(fieldMessage(v.field === 'content' ? 'text' : 'name', v.problem, clean), '', v.name);
  }
  assert.equal(fieldMessage('name', 'too_long', 'x'.repeat(51)), 'Name is too long — 50 characters at most');
  assert.equal(fieldMessage('text', 'too_long', 'x'.repeat(281)), 'Text is too long — 280 characters at most');
  assert.equal(fieldMessage('name', 'empty', ''), 'Name is empty — enter a name to post');
  assert.equal(fieldMessage('text', 'empty', ''), 'Text is empty — write something to post');
  // Invisible-only text is empty too, but the person sees that they typed something.
  assert.equal(fieldMessage('text', 'empty', '\u200b'), "Text is empty — spaces and invisible characters don't count");
});

test('the avatar letter is the first letter or digit of the name', () => {
  assert.equal(avatarLetter('<b>mallory</b>'), 'B', 'markup characters are not letters');
  assert.equal(avatarLetter('alice'), 'A');
  assert.equal(avatarLetter('  @bob_42'), 'B');
  assert.equal(avatarLetter('42 is the answer'), '4');
  assert.equal(avatarLetter('😀 Émile'), 'É');
  assert.equal(avatarLetter('e\u0301mile'), 'É', 'NFC first: e and a combining acute are one letter');
  assert.equal(avatarLetter('q\u0307uinn'), 'Q\u0307', 'a combining mark stays with its letter');
  assert.equal(avatarLetter('«山田»'), '山');
  assert.equal(avatarLetter('(ñandú)'), 'Ñ');
  assert.equal(avatarLetter('𝐀lpha'), '𝐀', 'a letter outside the BMP is one character, not half of one');
  assert.equal(avatarLetter('ßtraße'), 'ß', 'kept as it is when its capital is two letters');
  assert.equal(avatarLetter('😀🎉!'), '•', 'no letter or digit: a neutral mark');
  assert.equal(avatarLetter(''), '•');
  assert.equal(avatarLetter('\ud800x'), 'X', 'a lone surrogate is no letter');
});

test('relative time', () => {
  const now = new Date(2026, 10, 25, 12, 0, 0);
  const ago = (s) => new Date(now - s * 1000);
  assert.equal(relativeTime(ago(0), now), 'now');
  assert.equal(relativeTime(ago(59), now), 'now');
  assert.equal(relativeTime(ago(60), now), '1m');
  assert.equal(relativeTime(ago(3 * 60 + 5), now), '3m');
  assert.equal(relativeTime(ago(2 * 3600), now), '2h');
  assert.equal(relativeTime(ago(23 * 3600 + 59 * 60), now), '23h');
  assert.equal(relativeTime(new Date(2026, 10, 20, 9, 0), now), 'Nov 20');
  assert.equal(relativeTime(new Date(2025, 0, 3), now), 'Jan 3, 2025');
  assert.equal(relativeTime(new Date(now.getTime() + 5000), now), 'now'); // a clock a little ahead
});

test('the new-tweets label', () => {
  assert.equal(newTweetsLabel(1), 'Show 1 new tweet');
  assert.equal(newTweetsLabel(5), 'Show 5 new tweets');
  assert.equal(newTweetsLabel(99), 'Show 99 new tweets');
  assert.equal(newTweetsLabel(100), 'Show 100+ new tweets');
  assert.equal(newTweetsLabel(37, true), 'Show 100+ new tweets');
});

test('links: http and https only, sentence punctuation left out', () => {
  const parts = (s) => linkParts(s).map((p) => (p.href ? `[${p.href}]` : p.text)).join('');
  assert.equal(parts('see https://example.com/a?b=1.'), 'see [https://example.com/a?b=1].');
  assert.equal(parts('(http://x.org/path) ok'), '([http://x.org/path]) ok');
  assert.equal(parts('https://en.wikipedia.org/wiki/Go_(language)!'), '[https://en.wikipedia.org/wiki/Go_(language)]!');
  assert.equal(parts('javascript:alert(1) ftp://x.org'), 'javascript:alert(1) ftp://x.org');
  assert.equal(parts('two: http://a.io, https://b.io'), 'two: [http://a.io], [https://b.io]');
  assert.equal(parts('no links'), 'no links');
  assert.deepEqual(linkParts(''), []);
});

/** A clock the test moves by hand. */
function fakeClock() {
  let now = 0;
  let timers = [];
  return {
    now: () => now,
    setTimeout: (f, ms) => { const t = { at: now + ms, f }; timers.push(t); return t; },
    clearTimeout: (t) => { timers = timers.filter((x) => x !== t); },
    async advance(ms) {
      now += ms;
      for (const t of timers.filter((x) => x.at <= now)) {
        timers = timers.filter((x) => x !== t);
        t.f();
      }
      await new Promise((r) => setImmediate(r));
    },
  };
}

test('coalescing: one check in flight, at most one a second, none lost', async () => {
  const clock = fakeClock();
  let runs = 0;
  let release;
  const c = new Coalescer(() => { runs++; return new Promise((r) => { release = r; }); }, 1000, clock);
  c.request();
  assert.equal(runs, 1);
  for (let i = 0; i < 10; i++) c.request(); // a burst while the first is in flight
  assert.equal(runs, 1);
  release();
  await clock.advance(0);
  assert.equal(runs, 1, 'the follow-up waits for the second to pass');
  await clock.advance(999);
  assert.equal(runs, 1);
  await clock.advance(1);
  assert.equal(runs, 2, 'the burst cost one more check');
  release();
  await clock.advance(5000);
  assert.equal(runs, 2, 'nothing more was asked for');
  c.request();
  assert.equal(runs, 3, 'a request long after runs at once');
  release();
});

test('coalescing: a failed check does not stop later ones', async () => {
  const clock = fakeClock();
  let runs = 0;
  const c = new Coalescer(async () => { runs++; throw new Error('offline'); }, 1000, clock);
  c.request();
  await clock.advance(0);
  await clock.advance(1000);
  c.request();
  assert.equal(runs, 2);
});

const tw = (id) => ({ id, author: 'a', content: `tweet ${id}`, created_at: '', updated_at: '' });

test('store: pages merge without duplicates, newest first', () => {
  const s = new TweetStore();
  assert.deepEqual(s.addFirst([tw(30), tw(29), tw(28)], 3).map((t) => t.id), [30, 29, 28]);
  assert.equal(s.newestInOrder, 30);
  assert.equal(s.oldest, 28);
  assert.equal(s.reachedEnd, false);
  assert.deepEqual(s.addOlder([tw(28), tw(27)], 3).map((t) => t.id), [27]);
  assert.equal(s.reachedEnd, true);
  assert.deepEqual(s.ids(), [30, 29, 28, 27]);
});

test('store: an empty timeline walks from 0', () => {
  const s = new TweetStore();
  s.addFirst([], 20);
  assert.equal(s.newestInOrder, 0);
  assert.equal(s.reachedEnd, true);
});

test('store: one\'s own post is shown early without hiding the tweets before it', () => {
  const s = new TweetStore();
  s.addFirst([tw(10)], 20);
  // Tweets 11 and 12 wait behind the button; the reader posts 13.
  s.addOwn(tw(13));
  assert.equal(s.newestInOrder, 10, 'the own post must not move the edge');
  // The next check: since_id=10 gives 13, 12, 11; only 12 and 11 are news.
  assert.deepEqual(s.unseen([tw(13), tw(12), tw(11)]).map((t) => t.id), [12, 11]);
  // The click walks min_id=10 and inserts 11 and 12 around the own post.
  assert.deepEqual(s.addNewer([tw(13), tw(12), tw(11)]).map((t) => t.id), [12, 11]);
  assert.equal(s.newestInOrder, 13);
  assert.deepEqual(s.ids(), [13, 12, 11, 10]);
});

test('store: updates and removals', () => {
  const s = new TweetStore();
  s.addFirst([tw(2), tw(1)], 20);
  assert.equal(s.update({ id: 2, content: 'changed' }), true);
  assert.equal(s.get(2).content, 'changed');
  assert.equal(s.get(2).author, 'a');
  assert.equal(s.update({ id: 9, content: 'x' }), false);
  assert.equal(s.remove(1), true);
  assert.deepEqual(s.ids(), [2]);
});

test('api: a 429 carries its Retry-After seconds; other errors and other forms carry none', async () => {
  const answer = (status, headers) => async () => new Response(
    JSON.stringify({ error: { code: status === 429 ? 'rate_limited' : 'invalid', message: 'no' } }),
    { status, headers: { 'Content-Type': 'application/json', ...headers } });
  const refused = async (fetchImpl) => {
    try { await new Api('http://x', fetchImpl).create('a', 'b', 'k'); } catch (e) { return e; }
    assert.fail('no error');
  };
  const e = await refused(answer(429, { 'Retry-After': '7' }));
  assert.deepEqual([e.status, e.code, e.retryAfter], [429, 'rate_limited', 7]);
  assert.equal((await refused(answer(429, { 'Retry-After': 'Wed, 21 Oct 2015 07:28:00 GMT' }))).retryAfter, null);
  assert.equal((await refused(answer(422, {}))).retryAfter, null);
});

/** fakeTimeline answers api.tweets over rows (id → tweet) as the server does for since_id and max_id. */
function fakeTimeline(rows) {
  const asked = [];
  return {
    asked,
    async tweets({ since_id: since = 0, max_id: max = Infinity, limit = 20 }) {
      asked.push({ since, max, limit });
      return [...rows.values()].filter((t) => t.id > since && t.id < max).sort((a, b) => b.id - a.id).slice(0, limit);
    },
  };
}

const at = (s) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const tweetAt = (id, content = `tweet ${id}`, updated = 0) => ({ id, author: 'a', content, created_at: at(0), updated_at: at(updated) });

test('recheck: one walk over the ids on screen finds every edit and delete, and ignores unseen tweets', async () => {
  const store = new TweetStore();
  const db = new Map();
  for (let id = 1; id <= 320; id++) db.set(id, tweetAt(id));
  // On screen: 101..250 in order (a first page and older ones), and one's own post 300 above.
  store.addFirst([...db.values()].filter((t) => t.id > 230 && t.id <= 250).reverse(), 20);
  store.addOlder([...db.values()].filter((t) => t.id > 100 && t.id <= 230).reverse(), 200);
  store.addOwn(db.get(300));
  // Meanwhile, elsewhere: edits (one of them older than what the page already shows), deletes.
  for (const id of [101, 180, 250, 300]) db.set(id, tweetAt(id, `edited ${id}`, 5));
  for (const id of [102, 200, 249]) db.delete(id);
  store.update(tweetAt(180, 'edited 180 again', 9)); // the page applied a later edit already
  const api = fakeTimeline(db);

  const { updated, removed } = await recheck(store, api);
  assert.deepEqual(updated.map((t) => [t.id, t.content]).sort((a, b) => a[0] - b[0]),
    [[101, 'edited 101'], [250, 'edited 250'], [300, 'edited 300']]);
  assert.deepEqual(removed.sort((a, b) => a - b), [102, 200, 249]);
  // 151 shown, 3 of them deleted, and 49 unseen (251..299) in the range: two pages of 100.
  assert.equal(api.asked.length, 2, JSON.stringify(api.asked));
  assert.ok(api.asked.every((q) => q.since === 100 && q.limit === RECHECK_PAGE), JSON.stringify(api.asked));
  assert.equal(api.asked[0].max, 301);
});

test('recheck: nothing on screen asks nothing; a tweet deleted on screen meanwhile is not reported', async () => {
  const api = fakeTimeline(new Map());
  assert.deepEqual(await recheck(new TweetStore(), api), { updated: [], removed: [] });
  assert.equal(api.asked.length, 0);
  assert.equal(isNewer(tweetAt(1, 'x', 2), undefined), false);
  assert.equal(isNewer(tweetAt(1, 'x', 2), tweetAt(1, 'y', 1)), true);
  assert.equal(isNewer(tweetAt(1, 'x', 1), tweetAt(1, 'y', 1)), false);
  assert.equal(isNewer(tweetAt(1, 'x', 1), tweetAt(1, 'y', 2)), false);
});
