// chatorch web chat: plain ES modules, no build step. User text only ever reaches the
// page as text nodes (textContent / append); an answer's Markdown is rendered by
// markdown.js (raw HTML off, then sanitized), never set as innerHTML.

import { api, auth, download, streamUrl } from "./api.js";
import { $, el, when } from "./dom.js";
import { Attachments, renderSources } from "./files.js";
import { enableCopy, showMarkdown } from "./markdown.js";
import { Search } from "./search.js";
import { beginSignIn, finishSignIn } from "./sso.js";

const ui = {
  newChat: $("#new-chat"),
  chatList: $("#chat-list"),
  chatListEmpty: $("#chat-list-empty"),
  title: $("#chat-title"),
  exportChat: $("#export-chat"),
  messages: $("#messages"),
  messagesEmpty: $("#messages-empty"),
  composer: $("#composer"),
  input: $("#composer-input"),
  send: $("#send"),
  error: $("#error"),
  errorText: $("#error-text"),
  errorDismiss: $("#error-dismiss"),
  stop: $("#stop"),
  connection: $("#connection"),
  signIn: $("#sign-in"),
  signInForm: $("#sign-in-form"),
  apiKey: $("#api-key"),
  signInError: $("#sign-in-error"),
  signOut: $("#sign-out"),
  sso: $("#sso"),
  ssoButton: $("#sso-sign-in"),
  ssoUnavailable: $("#sso-unavailable"),
};

const state = {
  chats: [],
  chatId: null, // null: a new chat, created on the server when its first message is sent
  streams: new Map(), // response id → open EventSource, of the shown chat
  sending: false,
  sendKey: null, // Idempotency-Key of the message being sent; kept to retry the same text
};

// ---------------------------------------------------------------- helpers

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16)); // non-secure contexts lack randomUUID
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const chatLabel = (chat) => chat.title || "Untitled chat";

function showError(message) {
  if (ui.signIn.open) return; // the call failed for want of a key: the sign-in says so
  ui.errorText.textContent = message;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.hidden = true;
  ui.errorText.textContent = "";
}

// ---------------------------------------------------------------- chats

function renderChatList() {
  const items = state.chats.map((chat) => {
    const label = chatLabel(chat);
    const button = el("button", { type: "button", class: "chat-item", dataset: { chatId: chat.id } },
      el("span", { class: "chat-name" }, label),
      el("time", { datetime: chat.created_at }, when(chat.created_at)));
    if (chat.id === state.chatId) button.setAttribute("aria-current", "page");
    const actions = el("span", { class: "chat-actions" },
      el("button", { type: "button", class: "chat-rename", "aria-label": `Rename ${label}`, title: "Rename" }, "✎"),
      el("button", { type: "button", class: "chat-delete", "aria-label": `Delete ${label}`, title: "Delete" }, "🗑"));
    return el("li", { class: "chat-row", dataset: { row: chat.id } }, button, actions);
  });
  ui.chatList.replaceChildren(...items);
  ui.chatListEmpty.hidden = state.chats.length > 0;
  const current = state.chats.find((chat) => chat.id === state.chatId);
  ui.title.textContent = current ? chatLabel(current) : state.chatId ? "" : "New chat";
  ui.exportChat.hidden = !state.chatId;
}

/** Rename a chat in place: its row becomes a title field; Enter saves, Escape cancels. */
function startRename(chatId) {
  const chat = state.chats.find((c) => c.id === chatId);
  const row = ui.chatList.querySelector(`li[data-row="${CSS.escape(chatId)}"]`);
  if (!chat || !row) return;
  const input = el("input", {
    type: "text", class: "rename-input", maxlength: "200", required: "", "aria-label": "Chat title",
  });
  input.value = chat.title || "";
  const form = el("form", { class: "rename-form" }, input,
    el("button", { type: "submit", class: "link" }, "Save"),
    el("button", { type: "button", class: "link rename-cancel" }, "Cancel"));
  row.replaceChildren(form);
  input.focus();
  input.select();
  const done = () => {
    renderChatList();
    ui.chatList.querySelector(`li[data-row="${CSS.escape(chatId)}"] .chat-rename`)?.focus();
  };
  form.querySelector(".rename-cancel").addEventListener("click", done);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      done();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = input.value.trim();
    if (!title || title === chat.title) return done();
    input.disabled = true;
    try {
      Object.assign(chat, await api(`/v1/chats/${chatId}`, { method: "PATCH", body: { title } }));
      done();
    } catch (error) {
      input.disabled = false;
      input.focus();
      showError(`Cannot rename the chat: ${error.message}`);
    }
  });
}

async function deleteChat(chatId) {
  const chat = state.chats.find((c) => c.id === chatId);
  if (!chat) return;
  if (!confirm(`Delete “${chatLabel(chat)}” and all its messages? This cannot be undone.`)) return;
  clearError();
  try {
    await api(`/v1/chats/${chatId}`, { method: "DELETE" });
  } catch (error) {
    showError(`Cannot delete the chat: ${error.message}`);
    return;
  }
  state.chats = state.chats.filter((c) => c.id !== chatId);
  if (state.chatId === chatId) newChat();
  else renderChatList();
}

/** Show an empty, new chat. Nothing is created on the server until a message is sent,
 * so leaving it empty leaves nothing behind. */
function newChat() {
  closeStreams();
  clearError();
  state.chatId = null;
  history.replaceState(null, "", location.pathname + location.search);
  ui.messages.replaceChildren(ui.messagesEmpty);
  ui.messagesEmpty.hidden = false;
  renderChatList();
  updateSend();
}

async function loadChats() {
  state.chats = await api("/v1/chats?limit=100");
  renderChatList();
}

async function createChat() {
  const chat = await api("/v1/chats", { method: "POST", body: {} });
  state.chats.unshift(chat);
  return chat;
}

/** Delete a chat made for a message the server then refused; back to a new chat. */
async function dropChat(chatId) {
  await api(`/v1/chats/${chatId}`, { method: "DELETE" }).catch(() => {});
  state.chats = state.chats.filter((c) => c.id !== chatId);
  if (state.chatId === chatId) newChat();
}

async function selectChat(chatId) {
  closeStreams();
  clearError();
  if (!state.chats.some((chat) => chat.id === chatId)) {
    state.chats.push(await api(`/v1/chats/${chatId}`)); // older than the list's first page
  }
  state.chatId = chatId;
  history.replaceState(null, "", `#chat=${chatId}`);
  renderChatList();
  ui.messages.setAttribute("aria-busy", "true");
  try {
    const messages = await api(`/v1/chats/${chatId}/messages`);
    if (state.chatId === chatId) renderHistory(chatId, messages);
  } finally {
    ui.messages.removeAttribute("aria-busy");
  }
}

/** Open a chat at one of its messages (a search result), and point the reader at it. */
async function openMessage(chatId, messageId) {
  const selector = `.message[data-message-id="${CSS.escape(messageId || "")}"]`;
  const find = () => (messageId ? ui.messages.querySelector(selector) : null);
  if (state.chatId !== chatId || !find()) await selectChat(chatId);
  const article = find();
  for (const old of ui.messages.querySelectorAll(".message.highlight")) old.classList.remove("highlight");
  if (!article) return;
  article.classList.add("highlight");
  article.tabIndex = -1;
  article.scrollIntoView({ block: "center" });
  article.focus({ preventScroll: true });
}

async function exportChat() {
  const chat = state.chats.find((c) => c.id === state.chatId);
  if (!chat) return;
  ui.exportChat.disabled = true;
  clearError();
  try {
    await download(`/v1/chats/${chat.id}/export?format=md`, `${chat.id}.md`);
  } catch (error) {
    showError(error.message);
  } finally {
    ui.exportChat.disabled = false;
  }
}

// ---------------------------------------------------------------- messages

function messageEl(role, { id = "", content = "", status = "complete", responseId = "", createdAt } = {}) {
  const head = el("header", { class: "message-head" },
    el("span", { class: "role" }, role === "user" ? "You" : "Assistant"));
  if (createdAt) head.append(el("time", { datetime: createdAt }, when(createdAt)));
  head.append(el("span", { class: "status" }));
  const article = el("article", { class: `message ${role}`, dataset: { role, responseId } },
    head, el("div", { class: "content" }, content), el("p", { class: "note" }));
  if (id) article.dataset.messageId = id;
  if (role === "assistant") {
    article.append(
      el("div", { class: "sources", hidden: "" },
        el("span", { class: "sources-label" }, "Sources:"), el("ol", { class: "source-list" })),
      el("details", { class: "steps", hidden: "" },
        el("summary", {}, "Steps"), el("ol", { class: "step-list" })));
  }
  setStatus(article, status);
  return article;
}

function setStatus(article, status, note) {
  article.dataset.status = status;
  article.querySelector(".status").textContent = status === "complete" ? "" : status;
  if (note !== undefined) article.querySelector(".note").textContent = note;
  if (status === "stopped") article.querySelector(".status").textContent = "stopped";
  if (status === "pending" && article.dataset.role === "assistant") {
    article.setAttribute("aria-busy", "true"); // announce the answer once, when it is whole
  } else {
    article.removeAttribute("aria-busy");
  }
}

function describeStep(stage, detail = {}) {
  switch (stage) {
    case "think":
      return `think: ${[detail.decision, ...(detail.tools || [])].filter(Boolean).join(" ")}`;
    case "act":
      return `act: ${(detail.calls || []).map(describeCall).join("; ")}`;
    case "respond":
      return `respond: ${detail.provider}/${detail.model}`;
    default:
      return `${stage}: ${JSON.stringify(detail)}`;
  }
}

function describeCall(call) {
  const args = Object.values(call.arguments || {});
  const shown = args.length === 1 && typeof args[0] !== "object" ? args[0] : JSON.stringify(call.arguments);
  const result = call.ok ? call.output : `error: ${call.output}`;
  return `${call.name}(${shown}) → ${result} (${call.duration_ms} ms)`;
}

// How an answer was made, as its steps show it. A live answer gathers it from its step
// events, one per round of Think → Act; a stored answer's metadata keeps the same facts
// without the rounds (every tool call in one list, the model that answered, per-stage
// totals). So the page shows what both know, and a reloaded answer lists exactly the
// steps it streamed: the tools chosen, their calls, the decision to answer, the reply.
function newTrace() {
  return { decided: [], calls: [], answered: false, respond: null };
}

/** Fold one live ``step`` event into ``trace``. */
function noteStep(trace, stage, detail = {}) {
  if (stage === "think" && detail.decision === "answer") trace.answered = true;
  else if (stage === "think") trace.decided.push(...(detail.tools || []));
  else if (stage === "act") trace.calls.push(...(detail.calls || []));
  else if (stage === "respond") trace.respond = { provider: detail.provider, model: detail.model };
}

/** The trace of a stored answer, from its ``metadata``. */
function storedTrace(meta, status) {
  const complete = status === "complete";
  return {
    decided: [],
    calls: meta.tool_calls || [],
    answered: complete,
    respond: complete && meta.provider ? { provider: meta.provider, model: meta.model } : null,
  };
}

function renderSteps(article, trace) {
  const status = article.dataset.status;
  // Once the answer is over, the tools are those it called, as its metadata lists them.
  const called = trace.calls.map((call) => call.name);
  const tools = [...new Set(status === "pending" ? [...trace.decided, ...called] : called)];
  const rows = [];
  if (tools.length) rows.push(["think", describeStep("think", { decision: "tools", tools })]);
  if (trace.calls.length) rows.push(["act", describeStep("act", { calls: trace.calls })]);
  if (status !== "failed") {
    if (trace.answered) rows.push(["think", describeStep("think", { decision: "answer" })]);
    if (trace.respond) rows.push(["respond", describeStep("respond", trace.respond)]);
  }
  const steps = article.querySelector(".steps");
  steps.hidden = rows.length === 0;
  steps.querySelector("ol").replaceChildren(
    ...rows.map(([stage, text]) => el("li", { class: "step", dataset: { stage } }, text)));
  steps.querySelector("summary").textContent = rows.length ? `Steps (${rows.length})` : "Steps";
}

/** Change the list; follow the newest message unless the reader scrolled up. */
function keepBottom(change) {
  const list = ui.messages;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  change();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function show(article) {
  keepBottom(() => {
    ui.messagesEmpty.hidden = true;
    ui.messages.append(article);
  });
}

function renderHistory(chatId, messages) {
  ui.messages.replaceChildren(ui.messagesEmpty);
  ui.messagesEmpty.hidden = messages.length > 0;
  const answered = new Set(messages.filter((m) => m.role === "assistant").map((m) => m.response_id));
  for (const m of messages) {
    const meta = m.metadata || {};
    const assistant = m.role === "assistant";
    const status = assistant && meta.finish_reason === "cancelled" ? "stopped" : m.status;
    const article = messageEl(m.role, {
      id: m.id, content: assistant ? "" : m.content, status, responseId: m.response_id, createdAt: m.created_at,
    });
    if (meta.error) setStatus(article, m.status, meta.error.detail || meta.error.code);
    if (assistant) {
      showMarkdown(article.querySelector(".content"), m.content);
      renderSources(article, meta.citations);
      renderSteps(article, storedTrace(meta, m.status));
    }
    ui.messages.append(article);
    if (m.role === "user" && m.status === "pending" && !answered.has(m.response_id)) {
      // still being answered (e.g. after a reload): pick its stream up from the start
      const answer = messageEl("assistant", { status: "pending", responseId: m.response_id });
      ui.messages.append(answer);
      follow(chatId, `/v1/chats/${chatId}/events?response_id=${m.response_id}`, answer, article);
    }
  }
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

/** The stored answer's sources, once its stream said it is stored. */
async function loadSources(chatId, answer) {
  const id = answer.dataset.messageId;
  try {
    let stored = (await api(`/v1/chats/${chatId}/messages?limit=20`)).find((m) => m.id === id);
    stored ??= (await api(`/v1/chats/${chatId}/messages`)).find((m) => m.id === id);
    if (stored) renderSources(answer, stored.metadata?.citations);
  } catch (error) {
    if (state.chatId === chatId) showError(error.message);
  }
}

/** Stream one response into ``answer``; the URL replays it from its first event. */
function follow(chatId, url, answer, question) {
  const responseId = answer.dataset.responseId;
  const source = new EventSource(streamUrl(url));
  state.streams.set(responseId, source);
  updateSend();
  const content = answer.querySelector(".content");
  // The answer's text so far, shown as Markdown at most once per animation frame.
  let text = "";
  let frame = 0;
  const render = () => {
    cancelAnimationFrame(frame);
    frame = 0;
    keepBottom(() => showMarkdown(content, text));
  };
  const later = () => {
    frame ||= requestAnimationFrame(render);
  };
  const data = (handler) => (event) => {
    reconnected(source);
    handler(JSON.parse(event.data));
  };
  let trace = newTrace();
  const finish = (status, note) => {
    source.close();
    state.streams.delete(responseId);
    reconnected(source);
    render();
    setStatus(answer, status, note);
    setStatus(question, status === "stopped" ? "complete" : status);
    renderSteps(answer, trace);
    updateSend();
  };
  answer.querySelector(".steps").open = true;
  source.addEventListener("open", () => reconnected(source));
  source.addEventListener("token", data((d) => {
    text += d.text;
    later();
  }));
  source.addEventListener("step", data((d) => {
    noteStep(trace, d.stage, d.detail);
    keepBottom(() => renderSteps(answer, trace));
  }));
  source.addEventListener("reset", data((d) => {
    text = "";
    render();
    // A new attempt makes the answer again from the start, and only its steps are
    // stored; a fallback only replaces the model mid-reply, within the same steps.
    if (d.reason !== "fallback") trace = newTrace();
    renderSteps(answer, trace);
    setStatus(answer, "pending", `retrying (attempt ${d.attempt})`);
  }));
  source.addEventListener("done", data((d) => {
    // Sent when the stream lost part of the answer (a bus outage): the whole text.
    if (typeof d.content === "string") text = d.content;
    answer.dataset.messageId = d.message_id;
    const now = new Date().toISOString();
    answer.querySelector(".role").after(el("time", { datetime: now }, when(now)));
    if (d.finish_reason === "cancelled") finish("stopped", "Stopped before the end.");
    else finish("complete", "");
    loadSources(chatId, answer);
  }));
  source.addEventListener("error", (event) => {
    if (typeof event.data === "string") {
      const d = JSON.parse(event.data); // the server's own "error" event: the answer failed
      finish("failed", d.detail || d.code);
    } else if (source.readyState === EventSource.CLOSED) {
      finish("failed", "The event stream was closed; reload the chat to see the answer.");
      // Refused, not dropped: if for want of a key, this call's 401 brings the sign-in.
      api(`/v1/chats/${chatId}`).catch(() => {});
    } else {
      // EventSource reconnects by itself, resuming with Last-Event-ID
      reconnecting.add(source);
      ui.connection.hidden = false;
    }
  });
}

// Streams that dropped and are reconnecting: "Reconnecting…" shows while any is.
const reconnecting = new Set();

function reconnected(source) {
  reconnecting.delete(source);
  ui.connection.hidden = reconnecting.size === 0;
}

function closeStreams() {
  for (const source of state.streams.values()) {
    source.close();
    reconnected(source);
  }
  state.streams.clear();
  updateSend();
}

/** Stop the answers being streamed in the shown chat. */
async function stopAnswers() {
  const chatId = state.chatId;
  const ids = [...state.streams.keys()];
  if (!chatId || !ids.length) return;
  ui.stop.disabled = true;
  try {
    await Promise.all(ids.map((id) =>
      api(`/v1/chats/${chatId}/responses/${id}/cancel`, { method: "POST" })));
  } catch (error) {
    showError(`Cannot stop the answer: ${error.message}`);
  } finally {
    ui.stop.disabled = false;
  }
}

// ---------------------------------------------------------------- composer

const attachments = new Attachments({
  button: $("#attach"),
  input: $("#file-input"),
  list: $("#attachments"),
  onChange: () => {
    state.sendKey = null; // other files, another message
    updateSend();
  },
  onError: showError,
});

function updateSend() {
  // A file still being read would miss the message: wait for it (its chip says so).
  ui.send.disabled = state.sending || attachments.busy || ui.input.value.trim() === "";
  ui.stop.hidden = state.streams.size === 0;
}

async function send() {
  const content = ui.input.value;
  if (state.sending || attachments.busy || content.trim() === "") return;
  state.sending = true;
  updateSend();
  clearError();
  state.sendKey ??= uuid();
  let created = null; // the chat made for this first message
  try {
    if (!state.chatId) {
      created = await createChat();
      await selectChat(created.id);
    }
    const chatId = state.chatId;
    const fileIds = attachments.readyIds;
    const body = fileIds.length ? { content, file_ids: fileIds } : { content };
    let accepted;
    try {
      accepted = await api(`/v1/chats/${chatId}/messages`, {
        method: "POST", body, headers: { "Idempotency-Key": state.sendKey },
      });
    } catch (error) {
      // Refused (4xx: nothing was stored): the chat made for it goes again, so a new
      // chat exists only once a message is in it.
      if (created && error.status >= 400 && error.status < 500) {
        await dropChat(created.id);
        state.sendKey = null; // the next try goes to another new chat: another request
      }
      throw error;
    }
    state.sendKey = null;
    ui.input.value = "";
    attachments.sent(fileIds);
    if (state.chatId !== chatId) return; // the user moved on; the answer is in the history
    const m = accepted.message;
    const question = messageEl("user", {
      id: m.id, content: m.content, status: m.status, responseId: m.response_id, createdAt: m.created_at,
    });
    const answer = messageEl("assistant", { status: "pending", responseId: accepted.response_id });
    show(question);
    show(answer);
    follow(chatId, accepted.events_url, answer, question);
    const chat = state.chats.find((c) => c.id === chatId);
    if (chat && !chat.title) await loadChats(); // the first message named the chat
  } catch (error) {
    showError(error.message);
  } finally {
    state.sending = false;
    updateSend();
    ui.input.focus();
  }
}

// ---------------------------------------------------------------- wiring

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
ui.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});
ui.input.addEventListener("input", () => {
  state.sendKey = null; // different text, different message
  updateSend();
});
ui.chatList.addEventListener("click", (event) => {
  const row = event.target.closest("li[data-row]");
  if (!row) return;
  if (event.target.closest(".chat-rename")) startRename(row.dataset.row);
  else if (event.target.closest(".chat-delete")) deleteChat(row.dataset.row);
  else if (event.target.closest("button[data-chat-id]")) {
    selectChat(row.dataset.row).catch((error) => showError(error.message));
  }
});
ui.newChat.addEventListener("click", () => {
  newChat();
  ui.input.focus();
});
ui.stop.addEventListener("click", stopAnswers);
enableCopy(ui.messages);

// ---------------------------------------------------------------- signing in

// How this server lets people sign in (GET /v1/auth/config); null until known.
let signInOptions = null;
const DRAFT = "chatorch.draft"; // the message being typed, kept across a single sign-on

function keepDraft(text) {
  try {
    if (text) sessionStorage.setItem(DRAFT, text);
    else sessionStorage.removeItem(DRAFT);
  } catch {
    // storage disabled: the draft is lost with the page
  }
}

/** The sign-in, saying why (``why``) if there is something to say. */
function showSignIn(why = "") {
  closeStreams();
  ui.signInError.textContent = why;
  auth.key = "";
  ui.signOut.hidden = true;
  clearError();
  if (!ui.signIn.open) ui.signIn.showModal();
  (ui.sso.hidden ? ui.apiKey : ui.ssoButton).focus();
}

auth.onUnauthorized = (message) => {
  const refused = { key: `The API key was refused: ${message}`,
    sso: `Your sign-in ended (${message}); sign in again.` };
  showSignIn(refused[auth.kind] || "");
};
ui.ssoButton.addEventListener("click", () => {
  ui.ssoButton.disabled = true;
  keepDraft(ui.input.value);
  beginSignIn(signInOptions.oidc).catch((error) => {
    ui.ssoButton.disabled = false;
    keepDraft("");
    ui.signInError.textContent = error.message;
  });
});
ui.signIn.addEventListener("cancel", (event) => event.preventDefault()); // no way around it
ui.signInForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = ui.apiKey.value.trim();
  if (!key) return;
  auth.key = key;
  ui.apiKey.value = "";
  ui.signInError.textContent = "";
  ui.signIn.close();
  start();
});
ui.signOut.addEventListener("click", () => {
  auth.key = "";
  state.chats = [];
  newChat();
  start(); // with keys required, its 401 brings the sign-in back
});
ui.errorDismiss.addEventListener("click", clearError);
ui.exportChat.addEventListener("click", exportChat);

new Search({
  form: $("#search"),
  input: $("#search-input"),
  chatNav: $("#chat-nav"),
  panel: $("#search-results"),
  status: $("#search-status"),
  chats: $("#search-chats"),
  chatsHeading: $("#search-chats-heading"),
  messages: $("#search-messages"),
  more: $("#search-more"),
  open: openMessage,
  onError: showError,
});

async function start() {
  ui.signOut.hidden = !auth.key;
  try {
    await loadChats();
    ui.signOut.hidden = !auth.key;
    const wanted = new URLSearchParams(location.hash.slice(1)).get("chat");
    if (wanted && state.chats.some((chat) => chat.id === wanted)) await selectChat(wanted);
  } catch (error) {
    showError(error.message);
  }
  updateSend();
}

/** Learn how to sign in, finish a sign-in the identity provider sent back, then start. */
async function boot() {
  signInOptions = await api("/v1/auth/config").catch(() => null);
  const oidc = signInOptions?.oidc || null;
  ui.sso.hidden = !oidc;
  ui.ssoUnavailable.hidden = !signInOptions?.oidc_error;
  ui.ssoUnavailable.textContent = signInOptions?.oidc_error
    ? `Single sign-on is unavailable right now: ${signInOptions.oidc_error}` : "";
  const failed = await finishSignIn(oidc);
  try {
    ui.input.value ||= sessionStorage.getItem(DRAFT) || "";
  } catch {
    // storage disabled
  }
  keepDraft("");
  if (failed && signInOptions?.auth_required) {
    showSignIn(failed); // signing in again starts the page
    return;
  }
  if (failed) showError(failed);
  start();
}

boot();
