// An answer's Markdown, made safe to show. Model output is untrusted: markdown-it
// renders it with raw HTML off (``<script>`` or ``<img onerror>`` in an answer stays
// text), DOMPurify then sanitizes what markdown-it made, and the result is inserted as
// a DOM fragment, never through innerHTML. A question (the user's text) is never
// rendered: it stays plain text. The libraries are vendored (vendor/README.md).

import DOMPurify from "./vendor/dompurify/purify.es.js";
import hljs from "./vendor/highlight.js/highlight.min.js";
import markdownit from "./vendor/markdown-it/markdown-it.esm.min.js";
import { el } from "./dom.js";

const md = markdownit({
  html: false, // raw HTML in the text is shown as text
  linkify: true,
  typographer: false,
  highlight(code, lang) {
    if (!lang || !hljs.getLanguage(lang)) return ""; // markdown-it escapes it as is
    try {
      return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
    } catch {
      return "";
    }
  },
});

// Table alignment as a class: the page's CSP refuses inline style attributes.
for (const rule of ["th_open", "td_open"]) {
  md.renderer.rules[rule] = (tokens, idx, options, env, self) => {
    const token = tokens[idx];
    const style = token.attrGet("style");
    if (style) {
      const align = /text-align:\s*(left|right|center)/.exec(style);
      token.attrs = token.attrs.filter(([name]) => name !== "style");
      if (align) token.attrJoin("class", `align-${align[1]}`);
    }
    return self.renderToken(tokens, idx, options);
  };
}

// An image from elsewhere would be blocked by the CSP (and could track the reader): it
// becomes a link to it, named by its alt text.
md.renderer.rules.image = (tokens, idx) => {
  const token = tokens[idx];
  const src = md.utils.escapeHtml(token.attrGet("src") || "");
  const alt = md.utils.escapeHtml(token.content || token.attrGet("src") || "image");
  return `<a href="${src}">${alt}</a>`;
};

const PURIFY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "img", "svg", "math"],
  FORBID_ATTR: ["style", "id", "name"],
  RETURN_DOM_FRAGMENT: true,
};

/** ``text`` as sanitized nodes: a DocumentFragment ready to insert. */
export function renderMarkdown(text) {
  const fragment = DOMPurify.sanitize(md.render(text || ""), PURIFY);
  for (const link of fragment.querySelectorAll("a[href]")) {
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  for (const pre of fragment.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    if (!code) continue;
    code.classList.add("hljs");
    const lang = /(?:^|\s)language-(\S+)/.exec(code.className)?.[1] || "";
    const bar = el("div", { class: "code-bar" },
      el("span", { class: "code-lang" }, lang),
      el("button", { type: "button", class: "copy-code" }, "Copy"));
    const block = el("div", { class: "code-block" });
    pre.replaceWith(block);
    block.append(bar, pre);
  }
  return fragment;
}

/** Show ``text`` rendered in ``content`` (an answer's ``.content``). */
export function showMarkdown(content, text) {
  content.replaceChildren(renderMarkdown(text));
}

/** Copy buttons of code blocks anywhere under ``root``. */
export function enableCopy(root) {
  root.addEventListener("click", async (event) => {
    const button = event.target.closest("button.copy-code");
    if (!button) return;
    const code = button.closest(".code-block")?.querySelector("pre code");
    if (!code) return;
    try {
      await navigator.clipboard.writeText(code.textContent);
      button.textContent = "Copied";
    } catch {
      // no clipboard (an insecure origin, or refused): select it for Ctrl+C instead
      getSelection().selectAllChildren(code);
      button.textContent = "Press Ctrl+C";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
}
