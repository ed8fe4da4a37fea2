// Accessibility of Chirp's page (frontend/public), measured in headless Chromium on the real
// page: `chirp web` serving it (with its CSP) for the real API, as in page.test.js.
//
//  - axe-core (package.json pins it) scans every key state in both colour schemes: zero
//    violations of the WCAG 2.0/2.1/2.2 A and AA rules, and of axe's best practices (a best
//    practice ignored would be listed, with its reason, in IGNORED_BEST_PRACTICES). What axe
//    cannot decide ("incomplete": to review by hand) is logged; the contrast it cannot decide
//    is measured by the second test.
//  - What axe does not see: the contrast of every text in every state, hovered and focused
//    controls included, and of every focus indicator, in both schemes; reflow at 320 CSS px and
//    at 200 % zoom (WCAG 1.4.10); prefers-reduced-motion; forced colours (Windows high
//    contrast); the live region that announces new tweets.
//
// Run: CHIRP_BIN=/path/to/chirp node --test test/accessibility.test.js
// Needs Chromium at /usr/bin/chromium (or CHROMIUM_PATH); a failing test leaves screenshots of
// its tabs in frontend/test-output/.
import assert from 'node:assert/strict';
import { postTweet } from './support/server.js';
import { apiRequest } from './support/page.js';
import { until, sleep } from './support/wait.js';
import { browserTests } from './support/e2e.js';
import {
  a11yContext, axeScan, axeVersion, isWcag, describeResults, settle, textContrasts, focusIndicator, inPage,
} from './support/a11y.js';

const e2e = browserTests();

/**
 * Best practices axe reports that the page does not follow on purpose: rule id → why. Empty:
 * the page follows every one axe 4.14 checks. A rule added here is still reported in the
 * test's log.
 */
const IGNORED_BEST_PRACTICES = {};

const SCHEMES = ['light', 'dark'];
const isTweets = (u) => new URL(u).pathname === '/api/tweets';
const isSocket = (u) => new URL(u).pathname.startsWith('/socket.io/');
const failWith = (status) => (route) => route.fulfill({
  status,
  headers: { 'access-control-allow-origin': '*', 'content-type': 'application/json' },
  body: JSON.stringify({ error: { code: 'internal', message: 'the test says no' } }),
});

/**
 * findings collects problems seen in the key states, each listed once with the states where
 * it was seen: add(state, problem); list() for the failure message.
 */
function findings() {
  const seen = new Map();
  return {
    add(state, problem) {
      if (!seen.has(problem)) seen.set(problem, []);
      if (!seen.get(problem).includes(state)) seen.get(problem).push(state);
    },
    list() { return [...seen].map(([problem, states]) => `${problem}\n      in: ${states.join('; ')}`); },
  };
}

// A name at the API's limit (50 characters) and a link longer than a phone is wide: what
// reflow must wrap, not clip.
const LONG_NAME = 'Maximiliana Featherstonehaugh-Wolfeschlegelsteiner';
const LONG_LINK = 'https://example.com/a/very/long/path/that/does/not/fit/on/a/phone/screen?with=a&query=string';

/**
 * keyStates opens the page (in a fresh world) with contextOptions and brings it through each
 * key state, calling `await visit(label, tab)` in each:
 *   empty timeline; tweets (links, an "edited" mark, the reader's own tweet with Edit and
 *   Delete, a long name and a long link) above "No older tweets"; the "Show 2 new tweets"
 *   button; the composer near the limit, and over it with its message; its failure to post; an
 *   edit in progress; an edit the server refused; the delete dialog; and, in a second tab, the
 *   first page failing (the error banner with "Try again") while "Reconnecting…" shows.
 */
async function keyStates({ world, open }, contextOptions, visit) {
  const { api, web } = await world();
  const a = await open(web, 'A', { contextOptions });
  assert.equal(await a.page.isVisible('#empty'), true);
  await visit('empty timeline', a);

  const own = await a.post('Mine, with a link: https://example.com/chirp?from=a11y', { author: 'Ann' });
  await postTweet(api.url, `A long link wraps: ${LONG_LINK}`, LONG_NAME);
  const edited = await postTweet(api.url, 'first version', 'Bo');
  const patched = await apiRequest(api.url, 'PATCH', `/api/tweets/${edited.id}`, {
    body: { content: 'Edited, with a link: https://example.org/' }, token: edited.edit_token,
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  await a.page.reload();
  await a.ready();
  await a.page.locator('#no-older').waitFor({ state: 'visible' });
  assert.equal((await a.tweets()).filter((t) => t.edited).length, 1, 'one tweet says "edited"');
  assert.equal(await a.tweet(own).locator('[data-action="edit"]').count(), 1, 'the own tweet has Edit');
  await visit('tweets with links, an "edited" mark and "No older tweets"', a);

  await postTweet(api.url, 'one more', 'Cy');
  await postTweet(api.url, 'and another', 'Di');
  await a.waitForButton('Show 2 new tweets');
  await visit('the "Show 2 new tweets" button', a);

  await a.page.fill('#content', 'x'.repeat(270));
  await until(async () => (await a.page.getAttribute('#counter', 'class')).includes('near'), 'the counter warns');
  await visit('the composer near the limit (the counter warns)', a);

  await a.page.fill('#content', 'x'.repeat(281));
  await until(async () => (await a.page.textContent('#content-problem')) !== '', 'the composer says the text is too long');
  await visit('the composer over the limit, with its message', a);

  await a.page.route(isTweets, (route) => (route.request().method() === 'POST' ? failWith(500)(route) : route.fallback()));
  await a.page.fill('#content', 'this one the server refuses');
  await a.page.click('#composer button[type=submit]');
  await until(async () => (await a.page.textContent('#compose-error')) !== '', 'the composer shows the failure');
  await a.page.unroute(isTweets);
  await visit('the composer after a failure to post', a);

  await a.tweet(own).locator('[data-action="edit"]').click();
  await a.tweet(own).locator('textarea').waitFor();
  await visit('an edit in progress', a);

  const isOwn = (u) => new URL(u).pathname === `/api/tweets/${own}`;
  await a.page.route(isOwn, failWith(500));
  await a.tweet(own).locator('[data-action="save"]').click();
  await until(async () => (await a.tweet(own).locator('.error').textContent()) !== '', 'the tweet shows the failure to save');
  await a.page.unroute(isOwn);
  await visit('an edit the server refused', a);

  await a.tweet(own).locator('textarea').press('Escape');
  await a.tweet(own).locator('[data-action="delete"]').click();
  await a.page.locator('#confirm-delete').waitFor({ state: 'visible' });
  await visit('the delete dialog', a);
  await a.page.locator('#confirm-delete button[value="cancel"]').click();
  await a.page.locator('#confirm-delete').waitFor({ state: 'hidden' });

  const b = await open(web, 'B', {
    contextOptions,
    waitReady: false,
    before: (page) => page.route((u) => isTweets(u) || isSocket(u), (route) => route.abort()),
  });
  await b.page.locator('#load-failed').waitFor({ state: 'visible' });
  await b.page.locator('#connection').waitFor({ state: 'visible' });
  await visit('the first page failed (error banner, "Try again") and "Reconnecting…"', b);
  await b.close();
}

// 1. axe ---------------------------------------------------------------------------------
for (const scheme of SCHEMES) {
  e2e(`axe-core ${axeVersion}: no WCAG A/AA violation and no best-practice finding, ${scheme} scheme, every key state`, { timeout: 120_000 }, async (ctx, t) => {
    const failures = findings();
    await keyStates(ctx, a11yContext(scheme), async (label, tab) => {
      const { violations, incomplete, passes } = await axeScan(tab.page);
      const wcag = violations.filter(isWcag);
      const practice = violations.filter((r) => !isWcag(r));
      const ignored = practice.filter((r) => IGNORED_BEST_PRACTICES[r.id]);
      const unexplained = practice.filter((r) => !IGNORED_BEST_PRACTICES[r.id]);
      t.diagnostic(`${label}: ${passes} rules pass, ${wcag.length} WCAG violations, ${practice.length} best-practice findings` +
        `${ignored.length ? ` (${ignored.map((r) => r.id).join(', ')} ignored)` : ''}, ${incomplete.length} to review by hand`);
      for (const line of describeResults(incomplete).split('\n').filter(Boolean)) t.diagnostic(`  review: ${line}`);
      for (const line of describeResults([...wcag, ...unexplained]).split('\n').filter(Boolean)) failures.add(label, line);
    });
    const list = failures.list();
    assert.equal(list.length, 0, `axe found (${scheme}):\n  ${list.join('\n  ')}`);
  });
}

// 2. contrast in every state, hovered and focused controls included -------------------------

/**
 * probeControls hovers, then focuses (as the keyboard does: :focus-visible), each visible and
 * enabled control of the tab (only the open dialog's while it is open: the rest is inert), and
 * measures its text (textContrasts) and its focus indicator (focusIndicator) in that state.
 * Returns [{state, what, ratio, need}] for each measurement.
 */
async function probeControls(tab) {
  const { page } = tab;
  const count = await page.evaluate(() => {
    const scope = document.querySelector('dialog[open]') ?? document;
    const controls = [...scope.querySelectorAll('button, a[href], input, textarea, [tabindex]:not([tabindex="-1"])')]
      .filter((el) => el.checkVisibility() && !el.matches(':disabled, [aria-disabled="true"]'));
    document.querySelectorAll('[data-probe]').forEach((el) => el.removeAttribute('data-probe'));
    controls.forEach((el, i) => el.setAttribute('data-probe', String(i)));
    return controls.length;
  });
  const out = [];
  for (let i = 0; i < count; i++) {
    const sel = `[data-probe="${i}"]`;
    const control = page.locator(sel);
    // The skip link is off screen until focused: it is never hovered where it is.
    const onScreen = await control.evaluate((el) => el.getBoundingClientRect().right > 0);
    if (onScreen) {
      await control.hover();
      for (const m of await textContrasts(page, sel)) out.push({ state: 'hovered', ...m, need: m.large ? 3 : 4.5 });
      await page.mouse.move(0, 0);
    }
    await page.keyboard.press('Shift'); // the keyboard was used last: focus() shows :focus-visible
    await control.focus();
    assert.equal(await control.evaluate((el) => el.matches(':focus-visible')), true, `${sel} shows its focus`);
    for (const m of await textContrasts(page, sel)) out.push({ state: 'focused', ...m, need: m.large ? 3 : 4.5 });
    const ring = await focusIndicator(page);
    out.push({ state: `focus ${ring.kind}`, what: ring.what, ratio: ring.ratio, need: 3, fg: ring.color ?? '', bg: '' });
    await control.evaluate((el) => el.blur());
  }
  await page.evaluate(() => document.querySelectorAll('[data-probe]').forEach((el) => el.removeAttribute('data-probe')));
  return out;
}

for (const scheme of SCHEMES) {
  e2e(`every text and focus indicator has its contrast, ${scheme} scheme: every key state, every control hovered and focused`, { timeout: 180_000 }, async (ctx, t) => {
    const failures = findings();
    let measured = 0;
    await keyStates(ctx, a11yContext(scheme), async (label, tab) => {
      await settle(tab.page);
      // Behind an open modal dialog the page is inert (and dimmed): only the dialog counts.
      const scope = (await tab.page.isVisible('dialog[open]')) ? 'dialog[open]' : 'body';
      const still = (await textContrasts(tab.page, scope)).map((m) => ({ state: 'at rest', ...m, need: m.large ? 3 : 4.5 }));
      const probed = await probeControls(tab);
      for (const m of [...still, ...probed]) {
        measured++;
        if (m.ratio >= m.need) continue;
        failures.add(label, `${m.state} ${m.what}: ${m.ratio}:1 (${m.fg} on ${m.bg || 'its background'}), needs ${m.need}:1`);
      }
    });
    t.diagnostic(`${measured} measurements`);
    const list = failures.list();
    assert.equal(list.length, 0, `contrast too low (${scheme}):\n  ${list.join('\n  ')}`);
  });
}

// 3. reflow (WCAG 1.4.10) ----------------------------------------------------------------------

/**
 * reflowProblems lists, in the page as it is, what breaks reflow: a page wider than the
 * viewport (horizontal scrolling); a control (or the skip link, once focused) outside the
 * viewport's width or clipped by an ancestor that hides overflow; text cut off inside its box
 * (overflow hidden, an ellipsis); an open dialog wider or taller than the viewport without
 * scrolling of its own.
 */
function reflowProblems(page) {
  return inPage(page, (_, h) => {
    const problems = [];
    const vw = document.documentElement.clientWidth;
    const vh = document.documentElement.clientHeight;
    if (document.documentElement.scrollWidth > vw) {
      problems.push(`the page is ${document.documentElement.scrollWidth} px wide in a ${vw} px viewport`);
    }
    window.scrollTo(10_000, window.scrollY);
    if (window.scrollX !== 0) problems.push(`the page scrolls sideways (scrollX ${window.scrollX})`);
    window.scrollTo(0, window.scrollY);
    const scope = document.querySelector('dialog[open]') ?? document.body;
    for (const el of scope.querySelectorAll('*')) {
      if (!el.checkVisibility()) continue;
      const box = el.getBoundingClientRect();
      if (box.width <= 1 || box.height <= 1) continue; // visually hidden, for screen readers
      if (el.matches('a.skip:not(:focus)')) continue; // off screen until focused, by design
      const control = el.matches('button, a[href], input, textarea, label, [tabindex]');
      if (control) {
        if (box.left < -0.5 || box.right > vw + 0.5) problems.push(`${h.name(el)} is outside the viewport (${Math.round(box.left)}–${Math.round(box.right)} px of ${vw})`);
        for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
          if (getComputedStyle(a).overflowX === 'visible') continue;
          const outer = a.getBoundingClientRect();
          if (box.left < outer.left - 0.5 || box.right > outer.right + 0.5) problems.push(`${h.name(el)} is clipped by ${h.name(a)}`);
        }
      }
      const cs = getComputedStyle(el);
      const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '');
      if ((own || control) && cs.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1 && !el.matches('input, textarea')) {
        problems.push(`the text of ${h.name(el)} is cut off (${el.scrollWidth} px in ${el.clientWidth})`);
      }
      if (el.matches('dialog[open]') && (box.width > vw || (box.height > vh && el.scrollHeight <= el.clientHeight))) {
        problems.push(`the dialog (${Math.round(box.width)}×${Math.round(box.height)}) does not fit ${vw}×${vh}`);
      }
    }
    return problems;
  });
}

// 320 CSS px is WCAG's width; 200 % zoom of a 1280×800 window is what Chromium's zoom makes of
// it: a 640×400 CSS px viewport at twice the device pixels (and its media queries see 640 px).
const REFLOW = [
  ['320 CSS px wide', { viewport: { width: 320, height: 640 } }],
  ['200 % zoom (1280×800 window)', { viewport: { width: 640, height: 400 }, deviceScaleFactor: 2 }],
];
for (const [what, options] of REFLOW) {
  e2e(`reflow at ${what}: no horizontal scrolling, no control outside the viewport or clipped, no text cut off, in every key state`, { timeout: 120_000 }, async (ctx) => {
    const failures = findings();
    await keyStates(ctx, a11yContext('light', options), async (label, tab) => {
      await settle(tab.page);
      for (const p of await reflowProblems(tab.page)) failures.add(label, p);
      // The skip link, when the keyboard brings it on screen.
      await tab.page.keyboard.press('Shift');
      await tab.page.locator('a.skip').focus();
      for (const p of await reflowProblems(tab.page)) failures.add(`${label} (skip link focused)`, p);
      await tab.page.locator('a.skip').blur();
    });
    const list = failures.list();
    assert.equal(list.length, 0, `reflow at ${what}:\n  ${list.join('\n  ')}`);
  });
}

// 4. prefers-reduced-motion ----------------------------------------------------------------------

/** animations lists what is animating in the page: CSS animations and transitions, pseudo-elements included. */
function animations(page) {
  return page.evaluate(() => document.getAnimations().filter((a) => a.playState === 'running').map((a) =>
    `${a.animationName ?? a.transitionProperty ?? a.constructor.name} on ${a.effect?.target?.id || a.effect?.target?.className || a.effect?.target?.tagName}${a.effect?.pseudoElement ?? ''}`));
}

/**
 * scrollsAfterShow scrolls to the bottom of a long timeline, clicks the new-tweets button and
 * returns every scroll position the page passed through on its way back to the top (one, 0,
 * for a jump; many for a smooth scroll).
 */
async function scrollsAfterShow(tab) {
  await tab.page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await sleep(100);
  // Only what follows the click counts: a loaded machine can dispatch the scroll event of the
  // scroll to the bottom after this listener is in place.
  await tab.page.evaluate(() => {
    window.__scrolls = [];
    let clicked = false;
    document.querySelector('#new-tweets').addEventListener('click', () => { clicked = true; }, { capture: true });
    addEventListener('scroll', () => { if (clicked) window.__scrolls.push(Math.round(window.scrollY)); });
  });
  await tab.button().click();
  await until(() => tab.page.evaluate(() => window.scrollY === 0), 'the page is back at the top');
  await sleep(100);
  return tab.page.evaluate(() => window.__scrolls);
}

e2e('prefers-reduced-motion: nothing animates (the new-tweets button, "Reconnecting…", the scroll back to the top); without it they do', { timeout: 90_000 }, async ({ world, open }, t) => {
  const { api, web } = await world();
  for (let i = 1; i <= 12; i++) await postTweet(api.url, `tweet ${i}\n\nwith some lines\nto make\nthe page long`, 'api');
  const seen = {};
  for (const motion of ['reduce', 'no-preference']) {
    const tab = await open(web, motion, { contextOptions: a11yContext('light', { reducedMotion: motion, viewport: { width: 600, height: 500 } }) });
    // The drop lasts 0.2 s, which a busy machine can spend before a poll sees the button: the
    // page records every animation or transition that starts instead.
    await tab.page.evaluate(() => {
      window.__started = [];
      const seen = (e) => window.__started.push(`${e.animationName ?? e.propertyName} on ${e.target.id || e.target.className || e.target.tagName}${e.pseudoElement ?? ''}`);
      document.addEventListener('animationstart', seen, true);
      document.addEventListener('transitionstart', seen, true);
    });
    await postTweet(api.url, `one more (${motion})`, 'api');
    await tab.waitForButton('Show 1 new tweet');
    // animationstart is dispatched with a later frame than the one that showed the button, and
    // a busy machine may produce that frame late: wait for it (1 s at most, which is what the
    // reduced-motion case waits to see nothing start), and read what the button's computed style
    // animates too, which needs no frame.
    const button = await tab.page.evaluate(() => new Promise((resolve) => {
      const seen = () => {
        const cs = getComputedStyle(document.querySelector('#new-tweets'));
        const styled = cs.animationName !== 'none' && parseFloat(cs.animationDuration) > 0
          ? [`${cs.animationName} on new-tweets (computed style)`] : [];
        resolve([...window.__started, ...styled]);
      };
      if (window.__started.length > 0) return seen();
      const timer = setTimeout(seen, 1000);
      document.addEventListener('animationstart', () => {
        clearTimeout(timer);
        setTimeout(seen, 50);
      }, { once: true, capture: true });
    }));
    const scrolls = await scrollsAfterShow(tab);
    await tab.close();
    // "Reconnecting…" (its dot pulses) in a tab whose socket.io is blocked.
    const away = await open(web, `${motion}, offline`, {
      contextOptions: a11yContext('light', { reducedMotion: motion }),
      waitReady: false,
      before: (page) => page.route(isSocket, (route) => route.abort()),
    });
    await away.page.locator('#connection').waitFor({ state: 'visible' });
    const status = await animations(away.page);
    await away.close();
    seen[motion] = { button, status, scrolls };
  }
  t.diagnostic(`seen: ${JSON.stringify(seen)}`);
  const reduced = seen.reduce;
  assert.deepEqual(reduced.button, [], 'with reduced motion, the new-tweets button appears without animating');
  assert.deepEqual(reduced.status, [], 'with reduced motion, "Reconnecting…" does not pulse');
  assert.deepEqual(reduced.scrolls, [0], `with reduced motion, "Show new" jumps to the top, not scrolls (passed ${JSON.stringify(reduced.scrolls)})`);
  // The measurements measure something: without the preference the same things move.
  const moving = seen['no-preference'];
  assert.ok(moving.button.some((a) => a.startsWith('drop')), `the button drops in normally: ${JSON.stringify(moving.button)}`);
  assert.ok(moving.status.some((a) => a.startsWith('pulse')), `the dot pulses normally: ${JSON.stringify(moving.status)}`);
  assert.ok(moving.scrolls.length > 2, `the page scrolls smoothly normally: ${JSON.stringify(moving.scrolls)}`);
});

// 5. forced colours (Windows high contrast) -------------------------------------------------------

/**
 * edges measures, in forced colours, whether each element matching selector can be told from
 * what is around it: its border (at least 1 px) or its background must contrast 3:1 with the
 * background behind it, and its text 4.5:1 with its own background.
 */
function edges(page, selector) {
  return inPage(page, (sel, h) => [...document.querySelectorAll(sel)].filter((el) => el.checkVisibility()).map((el) => {
    const cs = getComputedStyle(el);
    const behind = el.matches('dialog[open]')
      ? h.parse(getComputedStyle(document.documentElement).backgroundColor)
      : h.backgroundOf(el.parentElement);
    const own = h.backgroundOf(el);
    const border = parseFloat(cs.borderTopWidth) >= 1 && cs.borderTopStyle !== 'none'
      ? h.round(h.ratio(h.over(h.parse(cs.borderTopColor), behind), behind)) : 0;
    const fill = h.round(h.ratio(own, behind));
    const text = h.round(h.ratio(h.over(h.parse(cs.color), own), own));
    return { what: h.name(el), border, fill, text, visible: Math.max(border, fill) >= 3 && text >= 4.5 };
  }), selector);
}

for (const scheme of SCHEMES) {
  e2e(`forced colours (${scheme}): every button, the new-tweets button and the dialog keep their edges, every focus ring shows`, { timeout: 120_000 }, async (ctx) => {
    const failures = findings();
    await keyStates(ctx, a11yContext(scheme, { forcedColors: 'active' }), async (label, tab) => {
      const { page } = tab;
      assert.equal(await page.evaluate(() => matchMedia('(forced-colors: active)').matches), true);
      await settle(page);
      const dialogOpen = await page.isVisible('dialog[open]');
      const buttons = dialogOpen ? 'dialog[open], dialog[open] button' : 'button:not(:disabled)';
      for (const e of await edges(page, buttons)) {
        if (!e.visible) failures.add(label, `${e.what} cannot be told from its surroundings (border ${e.border}:1, fill ${e.fill}:1, text ${e.text}:1)`);
      }
      // Every control shows an outline when the keyboard focuses it: box shadows (the text
      // fields' focus glow) are not drawn in forced colours.
      const controls = page.locator(dialogOpen ? 'dialog[open] button' : 'button:visible:not(:disabled), a[href]:visible, input:visible, textarea:visible');
      for (let i = 0; i < await controls.count(); i++) {
        await page.keyboard.press('Shift');
        await controls.nth(i).focus();
        const ring = await focusIndicator(page);
        if (ring.kind !== 'outline' || ring.ratio < 3) failures.add(label, `focused ${ring.what} shows ${ring.kind === 'outline' ? `an outline of ${ring.ratio}:1` : 'no outline'}`);
        await controls.nth(i).blur();
      }
    });
    const list = failures.list();
    assert.equal(list.length, 0, `forced colours (${scheme}):\n  ${list.join('\n  ')}`);
  });
}

// 6. the live region ---------------------------------------------------------------------------

e2e('the new-tweets button\'s arrival is announced once ("2 new tweets available"), not on every count change; the next arrival once again', {}, async ({ world, open }) => {
  const { api, web } = await world();
  // Checks are held while tweets are posted, so that the button arrives with both.
  let hold = null;
  const a = await open(web, 'A', {
    contextOptions: a11yContext('light'),
    before: (page) => page.route((u) => isTweets(u) && new URL(u).searchParams.has('since_id'), async (route) => {
      if (hold) await hold.promise;
      await route.fallback();
    }),
  });
  // Everything the live region says, in order (each change of its text, empty ones left out).
  await a.page.evaluate(() => {
    const region = document.querySelector('#announcer');
    window.__said = [];
    new MutationObserver(() => {
      if (region.textContent !== '') window.__said.push(region.textContent);
    }).observe(region, { childList: true, characterData: true, subtree: true });
  });
  const said = () => a.page.evaluate(() => window.__said);
  assert.equal(await a.page.getAttribute('#announcer', 'aria-live'), 'polite');
  assert.equal(await a.page.getAttribute('#announcer', 'role'), 'status');

  let release;
  hold = { promise: new Promise((resolve) => { release = resolve; }) };
  await postTweet(api.url, 'first', 'api');
  await postTweet(api.url, 'second', 'api');
  hold = null;
  release();
  await a.waitForButton('Show 2 new tweets');
  await sleep(300);
  assert.deepEqual(await said(), ['2 new tweets available'], 'the arrival is announced once');

  const before = Date.now();
  await postTweet(api.url, 'third', 'api');
  await a.waitForButton('Show 3 new tweets');
  await a.waitForCheckAfter(before);
  await sleep(300);
  assert.deepEqual(await said(), ['2 new tweets available'], 'a new count on the button already there is not announced');

  await a.button().click();
  await until(async () => (await a.buttonState()).hidden, 'the button goes after the click');
  assert.equal(await a.page.textContent('#announcer'), '', 'the region says nothing stale once the tweets are shown');
  await postTweet(api.url, 'fourth', 'api');
  await a.waitForButton('Show 1 new tweet');
  await sleep(300);
  assert.deepEqual(await said(), ['2 new tweets available', '1 new tweet available'], 'the next arrival is announced, once');
});
