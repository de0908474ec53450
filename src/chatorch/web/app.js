// chatorch web chat: plain ES modules, no build step. Model and user text only ever
// reaches the page as text nodes (textContent / append), never as HTML.

import { api, download } from "./api.js";
import { $, el, when } from "./dom.js";
import { Attachments, renderSources } from "./files.js";
import { Search } from "./search.js";

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
};

const state = {
  chats: [],
  chatId: null,
  streams: new Set(), // open EventSources of the shown chat
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
    const button = el("button", { type: "button", class: "chat-item", dataset: { chatId: chat.id } },
      el("span", { class: "chat-name" }, chatLabel(chat)),
      el("time", { datetime: chat.created_at }, when(chat.created_at)));
    if (chat.id === state.chatId) button.setAttribute("aria-current", "page");
    return el("li", {}, button);
  });
  ui.chatList.replaceChildren(...items);
  ui.chatListEmpty.hidden = state.chats.length > 0;
  const current = state.chats.find((chat) => chat.id === state.chatId);
  ui.title.textContent = current ? chatLabel(current) : "Start a conversation";
  ui.exportChat.hidden = !state.chatId;
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
    const article = messageEl(m.role, {
      id: m.id, content: m.content, status: m.status, responseId: m.response_id, createdAt: m.created_at,
    });
    const meta = m.metadata || {};
    if (meta.error) setStatus(article, m.status, meta.error.detail || meta.error.code);
    if (m.role === "assistant") {
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
  const source = new EventSource(url);
  state.streams.add(source);
  const content = answer.querySelector(".content");
  const data = (handler) => (event) => handler(JSON.parse(event.data));
  let trace = newTrace();
  const finish = (status, note) => {
    source.close();
    state.streams.delete(source);
    setStatus(answer, status, note);
    setStatus(question, status);
    renderSteps(answer, trace);
  };
  answer.querySelector(".steps").open = true;
  source.addEventListener("token", data((d) => keepBottom(() => content.append(d.text))));
  source.addEventListener("step", data((d) => {
    noteStep(trace, d.stage, d.detail);
    keepBottom(() => renderSteps(answer, trace));
  }));
  source.addEventListener("reset", data((d) => {
    content.textContent = "";
    // A new attempt makes the answer again from the start, and only its steps are
    // stored; a fallback only replaces the model mid-reply, within the same steps.
    if (d.reason !== "fallback") trace = newTrace();
    renderSteps(answer, trace);
    setStatus(answer, "pending", `retrying (attempt ${d.attempt})`);
  }));
  source.addEventListener("done", data((d) => {
    answer.dataset.messageId = d.message_id;
    const now = new Date().toISOString();
    answer.querySelector(".role").after(el("time", { datetime: now }, when(now)));
    finish("complete", "");
    loadSources(chatId, answer);
  }));
  source.addEventListener("error", (event) => {
    if (typeof event.data === "string") {
      const d = JSON.parse(event.data); // the server's own "error" event: the answer failed
      finish("failed", d.detail || d.code);
    } else if (source.readyState === EventSource.CLOSED) {
      finish("failed", "The event stream was closed; reload the chat to see the answer.");
    } // otherwise EventSource reconnects by itself, resuming with Last-Event-ID
  });
}

function closeStreams() {
  for (const source of state.streams) source.close();
  state.streams.clear();
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
}

async function send() {
  const content = ui.input.value;
  if (state.sending || attachments.busy || content.trim() === "") return;
  state.sending = true;
  updateSend();
  clearError();
  state.sendKey ??= uuid();
  try {
    if (!state.chatId) await selectChat((await createChat()).id);
    const chatId = state.chatId;
    const fileIds = attachments.readyIds;
    const body = fileIds.length ? { content, file_ids: fileIds } : { content };
    const accepted = await api(`/v1/chats/${chatId}/messages`, {
      method: "POST", body, headers: { "Idempotency-Key": state.sendKey },
    });
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
  const button = event.target.closest("button[data-chat-id]");
  if (button) selectChat(button.dataset.chatId).catch((error) => showError(error.message));
});
ui.newChat.addEventListener("click", async () => {
  ui.newChat.disabled = true;
  try {
    await selectChat((await createChat()).id);
    ui.input.focus();
  } catch (error) {
    showError(error.message);
  } finally {
    ui.newChat.disabled = false;
  }
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
  try {
    await loadChats();
    const wanted = new URLSearchParams(location.hash.slice(1)).get("chat");
    if (wanted && state.chats.some((chat) => chat.id === wanted)) await selectChat(wanted);
  } catch (error) {
    showError(error.message);
  }
  updateSend();
}

start();
