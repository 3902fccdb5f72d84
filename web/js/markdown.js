// Answers are Markdown: rendered by marked, sanitised by DOMPurify (nothing
// a model writes can run script or leave the page), and each `[n]` marker
// becomes a button that opens the cited source.
import { marked } from '../vendor/marked.mjs';
import DOMPurify from '../vendor/purify.mjs';

marked.setOptions({ gfm: true, breaks: true });

const ALLOWED = {
  ALLOWED_TAGS: ['p', 'br', 'strong', 'em', 'code', 'pre', 'ul', 'ol', 'li', 'blockquote', 'a', 'h1', 'h2', 'h3', 'h4', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'hr', 'button', 'mark', 'del'],
  ALLOWED_ATTR: ['href', 'title', 'class', 'data-n', 'type', 'aria-label'],
  ALLOW_DATA_ATTR: false,
};

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  // Links open apart, never with this page as their opener.
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

/**
 * The answer as safe HTML; `[n]` markers of real citations become buttons.
 * @param {string} text Markdown
 * @param {number[]} cited the citation numbers that exist
 */
export function answerHtml(text, cited) {
  const known = new Set(cited);
  const withCites = String(text).replace(/\[(\d{1,2})\]/g, (m, n) =>
    known.has(Number(n)) ? `<button type="button" class="cite" data-n="${n}" aria-label="Source ${n}">${n}</button>` : m);
  return DOMPurify.sanitize(marked.parse(withCites), ALLOWED);
}

/** A search snippet (the server marks matches with <mark>): only <mark> survives. */
export function snippetHtml(text) {
  return DOMPurify.sanitize(String(text), { ALLOWED_TAGS: ['mark'], ALLOWED_ATTR: [] });
}
