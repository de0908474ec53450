// Files attached in the composer: each is uploaded (POST /v1/files) as soon as it is
// picked, shown as a chip with its status, and polled until the server has read it. The
// next message sent carries the ready ones as ``file_ids``; the server then keeps them
// attached to the chat, so they leave the composer.

import { api } from "./api.js";
import { el, sleep } from "./dom.js";

const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 2000;
const STATUS_TEXT = { uploading: "uploading…", processing: "reading…", ready: "ready" };

export class Attachments {
  /**
   * @param {object} parts
   * @param {HTMLButtonElement} parts.button opens the file picker
   * @param {HTMLInputElement} parts.input the (hidden) ``<input type="file">``
   * @param {HTMLUListElement} parts.list where the chips go
   * @param {() => void} parts.onChange the set of files or their status changed
   * @param {(message: string) => void} parts.onError an upload was refused
   */
  constructor({ button, input, list, onChange, onError }) {
    this.list = list;
    this.onChange = onChange;
    this.onError = onError;
    this.items = []; // {id, name, status, error, chip}, in the order picked
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      for (const file of input.files) this.upload(file);
      input.value = ""; // picking the same file again is a new change
    });
    list.addEventListener("click", (event) => {
      const remove = event.target.closest("button.chip-remove");
      if (remove) this.remove(this.items.find((item) => item.chip.contains(remove)));
    });
  }

  /** Some file is still uploading or being read: a message sent now would miss it. */
  get busy() {
    return this.items.some((item) => item.status === "uploading" || item.status === "processing");
  }

  /** The ids of the files ready to go with the next message. */
  get readyIds() {
    return this.items.filter((item) => item.status === "ready").map((item) => item.id);
  }

  /** The message carrying ``ids`` was accepted: those files are the chat's now. */
  sent(ids) {
    for (const item of this.items.filter((i) => ids.includes(i.id))) this.remove(item, false);
    this.changed();
  }

  async upload(file) {
    const item = { id: "", name: file.name, status: "uploading", error: "", chip: null };
    this.add(item);
    const form = new FormData();
    form.append("file", file, file.name);
    let stored;
    try {
      stored = await api("/v1/files", { method: "POST", body: form });
    } catch (error) {
      this.remove(item);
      this.onError(`Cannot attach ${file.name}: ${error.message}`);
      return;
    }
    if (!this.items.includes(item)) return; // removed while uploading
    if (this.items.some((other) => other !== item && other.id === stored.id)) {
      this.remove(item); // the same bytes again: the server's answer is the file already here
      return;
    }
    item.id = stored.id;
    this.settle(item, stored);
    let wait = POLL_FIRST_MS;
    while (item.status === "processing" && this.items.includes(item)) {
      await sleep(wait);
      wait = Math.min(wait * 2, POLL_MAX_MS);
      if (!this.items.includes(item)) return;
      try {
        this.settle(item, await api(`/v1/files/${item.id}`));
      } catch (error) {
        this.settle(item, { status: "failed", name: item.name, error: error.message });
      }
    }
  }

  add(item) {
    item.chip = el("li", { class: "chip" },
      el("span", { class: "chip-name" }, item.name),
      el("span", { class: "chip-status" }),
      el("button", { type: "button", class: "chip-remove", "aria-label": `Remove ${item.name}` }, "×"));
    this.items.push(item);
    this.list.append(item.chip);
    this.show(item);
    this.changed();
  }

  settle(item, file) {
    item.status = file.status;
    item.name = file.name || item.name;
    item.error = file.status === "failed" ? file.error || "the file could not be read" : "";
    this.show(item);
    this.changed();
  }

  show(item) {
    const { chip } = item;
    chip.dataset.status = item.status;
    if (item.id) chip.dataset.fileId = item.id;
    chip.querySelector(".chip-name").textContent = item.name;
    chip.querySelector(".chip-status").textContent =
      item.status === "failed" ? `failed: ${item.error}` : STATUS_TEXT[item.status] || item.status;
  }

  remove(item, notify = true) {
    if (!item) return;
    this.items = this.items.filter((other) => other !== item);
    item.chip.remove();
    if (notify) this.changed();
  }

  changed() {
    this.list.hidden = this.items.length === 0;
    this.onChange();
  }
}

/** The "Sources" line of an answer: its ``metadata.citations``, once per file and
 * passage, numbered as the prompt numbered them (an answer cites them as [1], [2], …). */
export function renderSources(article, citations) {
  const seen = new Set();
  const items = [];
  (Array.isArray(citations) ? citations : []).forEach((citation, index) => {
    const key = `${citation.file_id}:${citation.chunk}`;
    if (seen.has(key)) return;
    seen.add(key);
    items.push(el("li", { class: "source", dataset: { fileId: citation.file_id } },
      el("span", { class: "source-number" }, `[${index + 1}]`),
      ` ${citation.name} · ${citation.page ? `page ${citation.page}` : `part ${citation.chunk + 1}`}`));
  });
  const box = article.querySelector(".sources");
  box.querySelector("ol").replaceChildren(...items);
  box.hidden = items.length === 0;
}
