// The sidebar's search: the user's messages holding the words typed (GET /v1/search)
// and the chats whose title holds them (GET /v1/chats?q=). While the box holds words the
// results stand in for the chat list; an empty box brings the list back.

import { api } from "./api.js";
import { el, when } from "./dom.js";

const DEBOUNCE_MS = 250;
const PAGE = 20;
const MAX_TITLE_QUERY = 200; // GET /v1/chats refuses a longer ``q``

/** The snippet's text with each ``**match**`` as a <mark>, built as nodes: a snippet is
 * message text and is never parsed as HTML. */
export function highlighted(snippet) {
  // split() with a capture group: the matches land at the odd indexes
  return snippet.split(/\*\*(.+?)\*\*/s).map((part, i) => (i % 2 ? el("mark", {}, part) : part));
}

export class Search {
  /**
   * @param {object} parts elements of the sidebar (see index.html)
   * @param {(chatId: string, messageId?: string) => Promise<void>} parts.open show a chat
   * @param {(message: string) => void} parts.onError
   */
  constructor({ form, input, chatNav, panel, status, chats, chatsHeading, messages, more, open, onError }) {
    Object.assign(this, { input, chatNav, panel, status, chats, chatsHeading, messages, more });
    this.open = open;
    this.onError = onError;
    this.timer = 0;
    this.query = "";
    this.seq = 0; // only the latest query's answers are shown
    this.next = null;
    input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.run(), DEBOUNCE_MS);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(this.timer);
      this.run(true);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && input.value) {
        event.preventDefault();
        input.value = "";
        clearTimeout(this.timer);
        this.run();
      }
    });
    const go = (event) => {
      const button = event.target.closest("button[data-chat-id]");
      if (!button) return;
      this.mark(button);
      this.open(button.dataset.chatId, button.dataset.messageId).catch((e) => onError(e.message));
    };
    chats.addEventListener("click", go);
    messages.addEventListener("click", go);
    more.addEventListener("click", () => this.page());
  }

  /** Search for what the box holds (again, when ``force``: Enter asks anew). */
  async run(force = false) {
    const query = this.input.value.trim();
    if (query === this.query && !force) return;
    this.query = query;
    const seq = ++this.seq;
    const searching = query !== "";
    this.panel.hidden = !searching;
    this.chatNav.hidden = searching;
    if (!searching) {
      this.status.textContent = "";
      return;
    }
    this.status.textContent = "Searching…";
    this.panel.setAttribute("aria-busy", "true");
    const params = new URLSearchParams({ q: query, limit: String(PAGE) });
    try {
      const [found, titled] = await Promise.all([
        api(`/v1/search?${params}`),
        query.length <= MAX_TITLE_QUERY ? api(`/v1/chats?${params}`) : [],
      ]);
      if (seq !== this.seq) return; // a newer query went out meanwhile
      this.chats.replaceChildren(...titled.map(chatResult));
      this.chatsHeading.hidden = this.chats.hidden = titled.length === 0;
      this.messages.replaceChildren();
      this.show(found);
    } catch (error) {
      if (seq !== this.seq) return;
      this.status.textContent = "";
      this.onError(error.message);
    } finally {
      if (seq === this.seq) this.panel.removeAttribute("aria-busy");
    }
  }

  async page() {
    const seq = this.seq;
    this.more.disabled = true;
    try {
      const found = await api(this.next);
      if (seq === this.seq) this.show(found);
    } catch (error) {
      this.onError(error.message);
    } finally {
      this.more.disabled = false;
    }
  }

  show(found) {
    this.messages.append(...found.items.map(messageResult));
    this.next = found.next;
    this.more.hidden = !found.next;
    const shown = this.messages.children.length;
    const titles = this.chats.children.length;
    this.status.textContent = shown || titles
      ? `${shown}${found.next ? "+" : ""} message${shown === 1 ? "" : "s"} found` +
        (titles ? `, ${titles} chat title${titles === 1 ? "" : "s"}` : "")
      : `Nothing found for “${this.query}”.`;
  }

  /** Mark the result last opened. */
  mark(button) {
    for (const old of this.panel.querySelectorAll("[aria-current]")) old.removeAttribute("aria-current");
    button.setAttribute("aria-current", "true");
  }
}

function chatResult(chat) {
  return el("li", {}, el("button", { type: "button", class: "chat-item", dataset: { chatId: chat.id } },
    el("span", { class: "chat-name" }, chat.title || "Untitled chat"),
    el("time", { datetime: chat.created_at }, when(chat.created_at))));
}

function messageResult(item) {
  const who = item.role === "user" ? "You" : "Assistant";
  return el("li", {}, el("button", {
    type: "button", class: "result", dataset: { chatId: item.chat_id, messageId: item.message_id },
  },
  el("span", { class: "chat-name" }, item.chat_title || "Untitled chat"),
  el("span", { class: "snippet" }, ...highlighted(item.snippet)),
  el("span", { class: "result-meta" }, `${who} · `,
    el("time", { datetime: item.created_at }, when(item.created_at)))));
}
