// The harness of the end-to-end page tests (page.test.js, accessibility.test.js): one headless
// Chromium per test file, and `e2e(name, opts, fn)`, a test whose body starts the real API
// (`chirp`, its own SQLite file) and `chirp web` serving the page from another origin, opens tabs
// on it, screenshots every open tab when it fails, and stops everything, last started first.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startServer } from './server.js';
import { launchBrowser, chromiumPath } from './browser.js';
import { startWeb, openChirp } from './page.js';

// Without Chromium these tests are skipped with the reason, except where CHIRP_REQUIRE_BROWSER
// is set (CI), where a missing browser fails them.
export const noBrowser = !existsSync(chromiumPath) && !process.env.CHIRP_REQUIRE_BROWSER &&
  `Chromium not found at ${chromiumPath}: apt-get install chromium (or set CHROMIUM_PATH) to run the browser tests`;

/**
 * browserTests launches Chromium before the calling file's tests and closes it after them, and
 * returns its `e2e` function. Call it once, at the top of a test file.
 */
export function browserTests() {
  /** @type {import('playwright-core').Browser} */
  let browser;
  before(async () => {
    if (noBrowser) return;
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  /**
   * e2e declares a test whose body gets a fresh world: fn({backend, web, world, open, defer, browser}, t).
   * On failure every open tab is screenshotted (paths appended to the error); then everything
   * is closed, last opened first (tabs before the servers they talk to).
   */
  return function e2e(name, opts, fn) {
    nodeTest(name, { timeout: 60_000, ...opts, skip: noBrowser }, async (t) => {
      const cleanups = [];
      const tabs = [];
      const cleanupErrors = [];
      const runCleanups = async () => {
        while (cleanups.length) await cleanups.pop()().catch((e) => cleanupErrors.push(e));
      };
      // Normally the body cleans up itself (below); this catches a test that timed out, so no
      // server outlives it.
      t.after(runCleanups);
      const ctx = {
        browser,
        /** backend starts the API (startServer options: port, dir, env). */
        async backend(options = {}) {
          const s = await startServer(options);
          cleanups.push(async () => {
            const res = await s.stop();
            assert.equal(res.code, 0, `the API did not exit cleanly: ${JSON.stringify(res)}\n${tail(s.logs())}`);
            assert.doesNotMatch(s.logs(), /level=ERROR|panic/, `the API logged an error or a panic:\n${tail(s.logs())}`);
          });
          return s;
        },
        /** web starts `chirp web` for the API at apiUrl. */
        async web(apiUrl) {
          const w = await startWeb({ apiUrl });
          cleanups.push(async () => {
            const res = await w.stop();
            assert.equal(res.code, 0, `chirp web did not exit cleanly: ${JSON.stringify(res)}\n${tail(w.logs())}`);
          });
          return w;
        },
        /** world starts an API with a fresh SQLite file and its page server. */
        async world() {
          const api = await ctx.backend();
          const web = await ctx.web(api.url);
          return { api, web };
        },
        /** open opens the page in a fresh browser context (see openChirp). */
        async open(web, tabName, options = {}) {
          const h = await openChirp(browser, web.url, { name: tabName, ...options });
          tabs.push(h);
          cleanups.push(() => h.close());
          return h;
        },
        /** defer registers a cleanup. */
        defer(f) { cleanups.push(f); },
      };
      const started = Date.now();
      let failure = null;
      try {
        await fn(ctx, t);
      } catch (err) {
        failure = err;
        const shots = [];
        for (const h of tabs) {
          if (h.closed) continue;
          try { shots.push(await h.screenshot(name)); } catch (e) { shots.push(`(${h.name}: no screenshot: ${e.message})`); }
        }
        const problems = tabs.flatMap((h) => h.problems().map((p) => `${h.name}: ${p}`));
        const extra = `\nscreenshots:\n  ${shots.join('\n  ')}` +
          (problems.length ? `\nbrowser problems:\n  ${problems.join('\n  ')}` : '');
        try { err.message += extra; } catch { /* frozen */ }
        for (const s of shots) t.diagnostic(`screenshot: ${s}`);
      }
      await runCleanups();
      t.diagnostic(`took ${Date.now() - started} ms`);
      if (failure) throw failure;
      if (cleanupErrors.length) throw cleanupErrors[0];
    });
  };
}

export function tail(logs, n = 40) {
  return logs.split('\n').slice(-n).join('\n');
}

/**
 * assertClean: no uncaught exception, no alert() (or other dialog), no console error in a tab
 * (CSP violations show there), except console lines matching one of `allow`.
 */
export function assertClean(h, { allow = [] } = {}) {
  assert.deepEqual(h.pageErrors, [], `${h.name}: uncaught errors in the page`);
  assert.deepEqual(h.dialogs, [], `${h.name}: dialogs opened`);
  assert.deepEqual(h.consoleErrors.filter((m) => !allow.some((re) => re.test(m))), [], `${h.name}: console errors`);
}
