// Takes the README's screenshots (docs/screenshot-desktop.png, docs/screenshot-phone-dark.png)
// of the real page: the real API on a fresh SQLite file and `chirp web`, a few tweets, and two
// more posted once the page has loaded, so that "Show 2 new tweets" is up. `make screenshots`
// builds the binary and runs this.
//
// Run: CHIRP_BIN=/path/to/chirp node scripts/screenshots.js [output folder, default ../docs]
// Needs Chromium at /usr/bin/chromium (or CHROMIUM_PATH).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, postTweet } from '../test/support/server.js';
import { startWeb, openChirp } from '../test/support/page.js';
import { launchBrowser } from '../test/support/browser.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] ?? path.join(here, '../../docs'));

// Oldest first.
const TIMELINE = [
  ['Grace', 'A ship in port is safe, but that is not what ships are built for.'],
  ['Margaret H.', 'Software engineering is a discipline. Also: the Apollo guidance computer had 4 KB of RAM. https://en.wikipedia.org/wiki/Apollo_Guidance_Computer'],
  ['نور', 'مرحبا! Right-to-left text renders the right way round.'],
  ['Ada', 'The engine might compose elaborate pieces of music of any degree of complexity.'],
];
const LATER = [
  ['Katherine', 'Checking the numbers by hand, as one does.'],
  ['Dorothy', 'FORTRAN for everyone: class starts at nine.'],
];

const SHOTS = [
  { file: 'screenshot-desktop.png', colorScheme: 'light', viewport: { width: 1000, height: 760 }, deviceScaleFactor: 1 },
  { file: 'screenshot-phone-dark.png', colorScheme: 'dark', viewport: { width: 390, height: 800 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
];

const browser = await launchBrowser();
try {
  for (const { file, ...contextOptions } of SHOTS) {
    const api = await startServer();
    const web = await startWeb({ apiUrl: api.url });
    try {
      for (const [author, content] of TIMELINE) await postTweet(api.url, content, author);
      const tab = await openChirp(browser, web.url, { name: file, contextOptions });
      for (const [author, content] of LATER) await postTweet(api.url, content, author);
      await tab.waitForButton('Show 2 new tweets');
      await tab.page.fill('#name', 'You');
      await tab.page.focus('#name');
      await tab.page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getComputedTiming().endTime === Infinity));
      const problems = tab.problems();
      if (problems.length) throw new Error(`${file}: the page reported problems:\n${problems.join('\n')}`);
      const target = path.join(out, file);
      await tab.page.screenshot({ path: target, animations: 'disabled', caret: 'hide' });
      console.log(`wrote ${path.relative(process.cwd(), target)}`);
      await tab.close();
    } finally {
      await web.stop();
      await api.stop();
    }
  }
} finally {
  await browser.close();
}
