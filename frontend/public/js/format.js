// Text and time, exactly as the server counts and as a person reads them. No DOM here: the
// tests run these in Node against docs/text-rules.json, the same vectors the server passes.

export const MAX_CONTENT = 280;
export const MAX_AUTHOR = 50;

// Go's strings.TrimSpace trims Unicode White_Space. JavaScript's trim() also trims U+FEFF,
// which Go keeps, so the server's rule is spelled out here.
const WHITE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRIM = new RegExp(`^[${WHITE}]+|[${WHITE}]+$`, 'g');

/** cleanText is what the server stores: CR LF and CR become LF, NFC, trimmed. */
export function cleanText(s) {
  return s.replace(/\r\n?/g, '\n').normalize('NFC').replace(TRIM, '');
}

/** textLength counts Unicode code points, as the server does (not UTF-16 units). */
export function textLength(s) {
  let n = 0;
  for (const _ of s) n++; // eslint-disable-line no-unused-vars
  return n;
}

// Text is empty when nothing but white space and default-ignorable code points (U+200B, U+2060,
// U+FEFF…: Unicode's Default_Ignorable_Code_Point, the server's table) is left; those are kept and
// counted otherwise, so the counter counts them too.
const INVISIBLE = new RegExp(`^[${WHITE}\\p{Default_Ignorable_Code_Point}]*$`, 'u');

// A lone surrogate is half of a UTF-16 pair: JSON.stringify sends it as a \uD800–\uDFFF escape,
// which the server refuses. In a /u pattern \p{Cs} matches only the unpaired ones.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * textProblem says what the server would refuse in cleaned text: 'surrogate' (a lone surrogate,
 * judged first as the server does), 'empty', 'too_long', 'control' (a C0/C1 control character;
 * content may hold LF and TAB), or '' when it is fine.
 */
export function textProblem(clean, max, multiline) {
  if (LONE_SURROGATE.test(clean)) return 'surrogate';
  const n = textLength(clean);
  if (INVISIBLE.test(clean)) return 'empty';
  if (n > max) return 'too_long';
  const control = multiline ? /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/ : /[\u0000-\u001f\u007f-\u009f]/;
  return control.test(clean) ? 'control' : '';
}

const FIELDS = {
  name: { label: 'Name', max: MAX_AUTHOR, blank: 'enter a name', control: 'a control character (a tab, say)' },
  text: { label: 'Text', max: MAX_CONTENT, blank: 'write something', control: 'a control character' },
};

/**
 * fieldMessage is what the composer shows under a field ('name' or 'text') for textProblem's
 * answer about its cleaned value, '' when there is none. Every problem textProblem returns has
 * its own message (logic.test.js checks them against docs/text-rules.json).
 */
export function fieldMessage(field, problem, clean) {
  const { label, max, blank, control } = FIELDS[field];
  switch (problem) {
    case '': return '';
    // Text of invisible characters is empty, but its writer sees that they typed something.
    case 'empty': return clean === '' ? `${label} is empty — ${blank} to post`
      : `${label} is empty — spaces and invisible characters don't count`;
    case 'too_long': return `${label} is too long — ${max} characters at most`;
    case 'control': return `${label} has ${control} — remove it to post`;
    case 'surrogate': return `${label} has a broken character (half of an emoji or symbol) — remove it to post`;
    default: return `${label} cannot be posted as it is`;
  }
}

/** charactersLeft is what the composer's counter shows (negative past the limit). */
export function charactersLeft(raw, max = MAX_CONTENT) {
  return max - textLength(cleanText(raw));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** relativeTime is the short age shown on a tweet: "now", "3m", "2h", "Nov 25", "Nov 25, 2025". */
export function relativeTime(date, now = new Date()) {
  const seconds = Math.floor((now - date) / 1000);
  if (seconds < 60) return 'now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  const day = `${MONTHS[date.getMonth()]} ${date.getDate()}`;
  return date.getFullYear() === now.getFullYear() ? day : `${day}, ${date.getFullYear()}`;
}

/** newTweetsLabel is the button's text for n waiting tweets; `more` means there may be more. */
export function newTweetsLabel(n, more = false) {
  if (more || n >= 100) return 'Show 100+ new tweets';
  return n === 1 ? 'Show 1 new tweet' : `Show ${n} new tweets`;
}

// A letter or digit, with the combining marks that belong to it; \p{L} and \p{N} never match
// half of a surrogate pair.
const LETTER = /[\p{L}\p{N}]\p{M}*/u;

/**
 * avatarLetter is the letter on a tweet's avatar: the name's first letter or digit, in capitals
 * where its capital is one letter ("ß" stays), or "•" when the name has none.
 */
export function avatarLetter(name) {
  const first = LETTER.exec(name.normalize('NFC'))?.[0];
  if (!first) return '•';
  const upper = first.toUpperCase();
  return textLength(upper) === textLength(first) ? upper : first;
}

// A URL runs to white space; trailing punctuation that usually ends a sentence is not part of
// it, nor is a closing bracket that has no opening one inside the URL.
const URL_RE = /\bhttps?:\/\/[^\s<>"]+/gi;

/** linkParts splits text into plain parts and http(s) links, for building DOM nodes. */
export function linkParts(text) {
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0];
    while (/[.,;:!?'*]$/.test(url) || (/\)$/.test(url) && !url.includes('('))) url = url.slice(0, -1);
    if (!isHttpURL(url)) continue;
    if (m.index > last) parts.push({ text: text.slice(last, m.index) });
    parts.push({ text: url, href: url });
    last = m.index + url.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

function isHttpURL(s) {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}
