// Helpers for the accessibility tests (accessibility.test.js): axe-core (the npm package, pinned
// in package.json) injected into the real page, and measurements axe does not make: the
// contrast of text in a state axe never sees (hover, focus), the page's width against the
// viewport, the animations running. Importing this module starts nothing.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const axeVersion = require('axe-core/package.json').version;

/** The WCAG 2.0, 2.1 and 2.2 level A and AA rules (axe's tags), and axe's best practices. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
export const BEST_PRACTICE = 'best-practice';

/**
 * a11yContext is what a tab of the accessibility tests opens with: the colour scheme and, so
 * that axe can be added as a <script> while the page keeps its own Content-Security-Policy
 * header (`chirp web` sends it unchanged; Chromium just does not apply it in this context),
 * bypassCSP. Nothing in the page depends on the policy being bypassed: the page tests run
 * with it applied.
 */
export function a11yContext(scheme, extra = {}) {
  return { colorScheme: scheme, bypassCSP: true, ...extra };
}

/** settle waits until no finite animation is running (the new-tweets button drops in over 0.2 s). */
export async function settle(page) {
  await page.waitForFunction(() => document.getAnimations().every((a) => {
    const timing = a.effect?.getComputedTiming();
    return a.playState !== 'running' || timing?.endTime === Infinity;
  }), undefined, { timeout: 5_000, polling: 20 });
}

/**
 * axeScan runs axe-core on the whole page (the open <dialog> included) with the WCAG A/AA
 * rules and the best practices, and returns {violations, incomplete, passes (a count)}, each
 * result reduced to {id, impact, tags, help, nodes: [{target, summary, html, related}]}.
 */
export async function axeScan(page) {
  await settle(page);
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.addScriptTag({ content: axeSource });
  }
  return page.evaluate(async (tags) => {
    const res = await window.axe.run(document, {
      runOnly: { type: 'tag', values: tags },
      resultTypes: ['violations', 'incomplete'],
    });
    const brief = (r) => ({
      id: r.id,
      impact: r.impact,
      tags: r.tags,
      help: r.help,
      nodes: r.nodes.map((n) => ({
        target: n.target.join(' '),
        summary: n.failureSummary ?? '',
        html: n.html.slice(0, 160),
        related: [...n.any, ...n.all, ...n.none].flatMap((c) => c.relatedNodes.map((x) => x.target.join(' '))),
      })),
    });
    return {
      violations: res.violations.map(brief),
      incomplete: res.incomplete.map(brief),
      passes: res.passes.length,
    };
  }, [...WCAG_TAGS, BEST_PRACTICE]);
}

/** isWcag says whether an axe result belongs to a WCAG A/AA rule (not only a best practice). */
export const isWcag = (r) => r.tags.some((t) => WCAG_TAGS.includes(t));

/** describeResults lists axe results one node a line, for failure messages and the test's log. */
export function describeResults(results) {
  return results.flatMap((r) => r.nodes.map((n) =>
    `${r.id} (${r.impact ?? 'n/a'}) ${n.target}: ${n.summary.replace(/\s+/g, ' ').trim() || r.help}` +
    (n.related.length ? ` [related: ${n.related.join(', ')}]` : ''))).join('\n');
}

// ---- contrast, computed in the page ----------------------------------------------------------

/**
 * textContrasts measures, in the page, the contrast of the text of every visible element that
 * has text of its own (and of each text field's placeholder, when it shows), against the
 * background actually behind it: the element's and its ancestors' background colours,
 * composited (translucent ones and color-mix() included), over the page's. Hidden elements,
 * visually hidden ones (1 px boxes, for screen readers) and disabled controls (WCAG 1.4.3 exempts inactive controls) are
 * skipped. `within` limits it to one part of the page (a CSS selector). Returns
 * [{what, fg, bg, ratio, large}] where `large` is text large by WCAG's measure (18.66 px bold,
 * 24 px otherwise), which needs 3:1 rather than 4.5:1.
 */
export function textContrasts(page, within = 'body') {
  return inPage(page, (sel, h) => {
    const out = [];
    const root = document.querySelector(sel);
    if (!root) return out;
    for (const el of [root, ...root.querySelectorAll('*')]) {
      if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
      const box = el.getBoundingClientRect();
      if (box.width <= 1 || box.height <= 1) continue; // visually hidden (for screen readers)
      if (el.matches(':disabled, [aria-disabled="true"]') || el.closest('[aria-disabled="true"]')) continue;
      const cs = getComputedStyle(el);
      const bg = h.backgroundOf(el);
      const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '');
      const field = el.matches('input, textarea');
      if (own || (field && el.value !== '')) {
        out.push(h.entry(el, '', h.over(h.parse(cs.color), bg), bg, cs));
      }
      if (field && el.value === '' && el.placeholder) {
        const ps = getComputedStyle(el, '::placeholder');
        out.push(h.entry(el, '::placeholder', h.over(h.parse(ps.color), bg), bg, ps));
      }
    }
    return out;
  }, within);
}

/**
 * focusIndicator measures the focused element's indicator (WCAG 1.4.11, 2.4.7): its outline,
 * when it has one, against the background around it; or else its border, which must differ
 * from the border it has unfocused by 3:1 or contrast 3:1 with the background. Returns
 * {what, kind, ratio, outline, border}.
 */
export function focusIndicator(page) {
  return inPage(page, (_, h) => {
    const el = document.activeElement;
    const cs = getComputedStyle(el);
    const around = h.backgroundOf(el.parentElement ?? el);
    const what = h.name(el);
    if (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2) {
      const c = h.over(h.parse(cs.outlineColor), around);
      return { what, kind: 'outline', ratio: h.round(h.ratio(c, around)), color: cs.outlineColor, width: cs.outlineWidth };
    }
    if (parseFloat(cs.borderTopWidth) >= 1) {
      const c = h.over(h.parse(cs.borderTopColor), around);
      return { what, kind: 'border', ratio: h.round(h.ratio(c, around)), color: cs.borderTopColor, width: cs.borderTopWidth };
    }
    return { what, kind: 'none', ratio: 1 };
  });
}

/**
 * inPage runs fn(arg, helpers) in the page, `helpers` being the colour functions below. It is
 * sent as the source of one expression, so nothing in the page has to evaluate code (which its
 * CSP, 'unsafe-eval' absent, would refuse).
 */
export function inPage(page, fn, arg = null) {
  return page.evaluate(`(${fn.toString()})(${JSON.stringify(arg)}, ${pageHelpers})`);
}

// Functions run in the page, passed as source (one object literal).
const pageHelpers = `{
  parse(s) {
    let m = /^rgba?\\(([\\d.]+),? ([\\d.]+),? ([\\d.]+)(?:,? \\/? ?([\\d.]+))?\\)$/.exec(s);
    if (m) return [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]];
    m = /^color\\(srgb ([-\\d.e]+) ([-\\d.e]+) ([-\\d.e]+)(?: \\/ ([\\d.]+))?\\)$/.exec(s);
    if (m) return [m[1] * 255, m[2] * 255, m[3] * 255, m[4] === undefined ? 1 : +m[4]];
    throw new Error('unparsed colour ' + s);
  },
  over(top, below) {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + below[i] * (1 - a)).concat(1);
  },
  backgroundOf(el) {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      layers.push(this.parse(getComputedStyle(e).backgroundColor));
      // An element in the top layer (the open modal dialog) sits over ::backdrop, not its parent.
      if (e.matches('dialog[open]')) break;
    }
    const canvas = this.parse(getComputedStyle(document.documentElement).backgroundColor);
    let bg = canvas[3] === 1 ? canvas : [255, 255, 255, 1];
    for (const layer of layers.reverse()) bg = this.over(layer, bg);
    return bg;
  },
  luminance(c) {
    const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  },
  round(x) { return Math.round(x * 100) / 100; },
  ratio(a, b) {
    const x = this.luminance(a), y = this.luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  },
  name(el) {
    const text = (el.matches('input, textarea') ? (el.labels?.[0]?.textContent ?? el.getAttribute('aria-label')) : el.textContent) ?? '';
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
      ' "' + text.trim().replace(/\\s+/g, ' ').slice(0, 30) + '"';
  },
  entry(el, pseudo, fg, bg, cs) {
    const size = parseFloat(cs.fontSize), bold = Number(cs.fontWeight) >= 700;
    const hex = (c) => '#' + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
    return { what: this.name(el) + pseudo, fg: hex(fg), bg: hex(bg), ratio: this.round(this.ratio(fg, bg)), large: size >= 24 || (bold && size >= 18.66) };
  },
}`;
