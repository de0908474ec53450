// Small DOM helpers shared by the page's modules. Text from the server or the user is
// only ever added as text nodes (strings passed to el()), never parsed as HTML.

export const $ = (selector) => document.querySelector(selector);

/** A new element with attributes (``class``, ``dataset``, others as-is) and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value);
  }
  node.append(...children); // strings become text nodes
  return node;
}

export const when = (iso) =>
  new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
