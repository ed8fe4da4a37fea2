// Helpers for the end-to-end tests of Chirp's real page (frontend/public): `chirp web` serving
// the page folder from its own origin (with its CSP and /config.js pointing at the API), a
// handle on one browser tab of the page, and the reads the tests share.
// Importing this module starts nothing.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChirp } from './server.js';
import { until } from './wait.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The page folder `chirp web` serves (CHIRP_WEB_ROOT overrides it, to try a modified copy). */
export const webRoot = process.env.CHIRP_WEB_ROOT
  ? path.resolve(process.env.CHIRP_WEB_ROOT)
  : path.resolve(here, '../../public');
/** Where failure screenshots go (CI prints the paths). */
export const outputDir = path.resolve(here, '../../test-output');

/**
 * startWeb runs `chirp web` on a free port (WEB_PORT=0), serving webRoot with API_URL=apiUrl.
 * Returns {url, port, proc, logs(), stop(), kill()}.
 */
export function startWeb({ apiUrl, env = {} }) {
  return runChirp({ args: ['web'], env: { WEB_PORT: '0', WEB_ROOT: webRoot, API_URL: apiUrl, ...env }, readyPath: '/config.js' });
}

/** listAll reads every tweet from the API, newest first, paging with max_id. */
export async function listAll(apiUrl) {
  const all = [];
  let maxId;
  for (let i = 0; i < 1000; i++) {
    const q = new URLSearchParams({ limit: '100' });
    if (maxId !== undefined) q.set('max_id', String(maxId));
    const res = await fetch(`${apiUrl}/api/tweets?${q}`);
    if (!res.ok) throw new Error(`GET /api/tweets?${q}: ${res.status} ${await res.text()}`);
    const page = await res.json();
    all.push(...page);
    if (page.length < 100) return all;
    maxId = page[page.length - 1].id;
  }
  throw new Error('listAll: too many pages');
}

/** apiRequest calls the API with a JSON body (or none); returns {status, body}. */
export async function apiRequest(apiUrl, method, path, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(apiUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, body: json ?? text };
}

/**
 * openChirp opens the page at url in a fresh browser context (its own localStorage and
 * connections, as another browser would have). Records console errors, uncaught page errors,
 * dialogs (alert() and the like: dismissed at once) and the POSTs to /api/tweets with their
 * headers. `before(page, context)` runs before the page loads (routes, say). `contextOptions`
 * go to browser.newContext (colorScheme, reducedMotion, forcedColors, viewport, bypassCSP…).
 * Returns a handle.
 */
export async function openChirp(browser, url, { name = 'page', before, waitReady = true, contextOptions = {} } = {}) {
  const context = await browser.newContext({ viewport: { width: 900, height: 900 }, ...contextOptions });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const h = {
    name,
    url,
    context,
    page,
    consoleErrors: [],
    pageErrors: [],
    dialogs: [],
    /** POST /api/tweets requests: {url, headers}. */
    posts: [],
    /** GET /api/tweets?since_id= checks of what is new the page made (not re-checks, which add max_id): {at, done}. */
    checks: [],
    closed: false,
    problems() {
      return [
        ...h.consoleErrors.map((m) => `console: ${m}`),
        ...h.pageErrors.map((m) => `pageerror: ${m}`),
        ...h.dialogs.map((d) => `dialog (${d.type}): ${d.message}`),
      ];
    },
    /** ids of the tweets on screen, in screen order. */
    ids() {
      return page.$$eval('#timeline > li.tweet[data-id]', (lis) => lis.map((li) => Number(li.dataset.id)));
    },
    /** tweets on screen: {id, author, content, edited}. */
    tweets() {
      return page.$$eval('#timeline > li.tweet[data-id]', (lis) => lis.map((li) => ({
        id: Number(li.dataset.id),
        author: li.querySelector('.author')?.textContent ?? null,
        content: li.querySelector('.content')?.textContent ?? null,
        edited: !!li.querySelector('.edited'),
      })));
    },
    tweet(id) { return page.locator(`#timeline > li.tweet[data-id="${id}"]`); },
    button() { return page.locator('#new-tweets'); },
    /** buttonState is {hidden, text, disabled} of "Show N new tweets". */
    buttonState() {
      return page.$eval('#new-tweets', (b) => ({ hidden: b.hidden, text: b.textContent, disabled: b.disabled }));
    },
    /** connected says whether the page's socket.io client is connected (and on which transport). */
    connection() {
      return page.evaluate(() => {
        const managers = window.io && window.io.managers ? Object.values(window.io.managers) : [];
        for (const m of managers) {
          const s = m.nsps && m.nsps['/'];
          if (s && s.connected) return { connected: true, transport: m.engine?.transport?.name ?? null };
        }
        return { connected: false, transport: null };
      });
    },
    /** ready waits until the first page of tweets is shown and the live connection is up. */
    async ready(timeout = 10_000) {
      await page.waitForFunction(() => {
        const list = document.querySelector('#timeline');
        return list && !list.hasAttribute('aria-busy') &&
          (list.children.length > 0 || !document.querySelector('#empty').hidden);
      }, undefined, { timeout, polling: 20 });
      await until(async () => (await h.connection()).connected, `${name}: live connection`, timeout, 20);
    },
    /** waitForButton waits until the new-tweets button shows exactly text. */
    async waitForButton(text, timeout = 5_000) {
      try {
        await page.waitForFunction((t) => {
          const b = document.querySelector('#new-tweets');
          return !b.hidden && b.textContent === t;
        }, text, { timeout, polling: 20 });
      } catch (err) {
        const s = await h.buttonState().catch((e) => e.message);
        throw new Error(`${name}: the button did not show ${JSON.stringify(text)} within ${timeout} ms; ` +
          `it is ${JSON.stringify(s)}; problems: ${JSON.stringify(h.problems())}`);
      }
    },
    /**
     * waitForCheckAfter waits until the page has finished a since_id check (the button's) that
     * it started at or after time t (Date.now() in this process).
     */
    async waitForCheckAfter(t, timeout = 5_000) {
      await until(() => h.checks.some((c) => c.at >= t && c.done), `${name}: a new-tweets check after the event`, timeout, 20);
    },
    /** post writes text in the composer and clicks Post; waits until it is shown and the box is empty. */
    async post(text, { author } = {}) {
      if (author !== undefined) await page.fill('#name', author);
      const before = new Set(await h.ids());
      await page.fill('#content', text);
      await page.click('#composer button[type=submit]');
      return h.waitForOwn(before, text);
    },
    /** waitForOwn waits for a new tweet (not in `before`) with this text, and an empty composer; returns its id. */
    async waitForOwn(before, text, timeout = 5_000) {
      const id = await until(async () => {
        const shown = await h.tweets();
        const t = shown.find((x) => !before.has(x.id) && x.content === text);
        return t ? t.id : null;
      }, `${name}: own tweet ${JSON.stringify(text.slice(0, 40))} shown`, timeout, 20);
      await until(async () => (await page.inputValue('#content')) === '', `${name}: composer emptied`, timeout, 20);
      return id;
    },
    /** screenshot saves a full-page screenshot under outputDir; returns its path. */
    async screenshot(label) {
      mkdirSync(outputDir, { recursive: true });
      const file = path.join(outputDir, `${label}-${name}`.replace(/[^\w.-]+/g, '_').slice(0, 150) + '.png');
      await page.screenshot({ path: file, fullPage: true, timeout: 5_000 });
      return file;
    },
    async close() {
      h.closed = true;
      await context.close().catch(() => {});
    },
  };
  page.on('console', (m) => { if (!h.closed && m.type() === 'error') h.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => { if (!h.closed) h.pageErrors.push(String(e)); });
  page.on('dialog', (d) => {
    h.dialogs.push({ type: d.type(), message: d.message() });
    d.dismiss().catch(() => {});
  });
  const isTweets = (u) => new URL(u).pathname === '/api/tweets';
  page.on('request', (r) => {
    if (r.method() === 'POST' && isTweets(r.url())) {
      // allHeaders() includes what Chromium adds; headers() alone may miss some.
      const entry = { url: r.url(), headers: r.headers() };
      h.posts.push(entry);
      r.allHeaders().then((all) => { entry.headers = all; }).catch(() => {});
    }
    const q = new URL(r.url()).searchParams;
    if (r.method() === 'GET' && isTweets(r.url()) && q.has('since_id') && !q.has('max_id')) {
      const c = { at: Date.now(), done: false, request: r };
      h.checks.push(c);
    }
  });
  const finished = (r) => {
    const c = h.checks.find((x) => x.request === r);
    if (c) c.done = true;
  };
  page.on('requestfinished', finished);
  page.on('requestfailed', finished);
  if (before) await before(page, context);
  try {
    await page.goto(url, { waitUntil: 'load', timeout: 10_000 });
    if (waitReady) await h.ready();
  } catch (err) {
    await h.screenshot(`open-failed`).catch(() => {});
    await h.close();
    throw err;
  }
  return h;
}
