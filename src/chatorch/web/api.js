// Every call the page makes to the server goes through request(), so headers are set in
// one place. Without keys (the embedded, local mode) the page sends no credential and
// acts as the local user; when the server requires one (docs/api.md#authentication) a
// 401 asks the page to sign in, and the API key given — or the ID token of a single
// sign-on (sso.js) — is kept in sessionStorage and sent as ``Authorization: Bearer`` on
// every call. Event streams carry it as ``?access_token=`` instead: EventSource cannot
// set headers (docs/security.md).

import { el } from "./dom.js";

const KEY = "chatorch.apiKey";
const TOKEN = "chatorch.idToken";

function read(name) {
  try {
    return sessionStorage.getItem(name) || "";
  } catch {
    return ""; // storage disabled: nothing kept
  }
}

function write(name, value) {
  try {
    if (value) sessionStorage.setItem(name, value);
    else sessionStorage.removeItem(name);
  } catch {
    // storage disabled
  }
}

/** The credential the page sends, and who to tell when the server refuses it. */
export const auth = {
  /** The credential sent: an API key, or the ID token of a single sign-on. */
  get key() {
    return read(KEY) || read(TOKEN);
  },
  /** Sign in with an API key; "" signs out (either way). */
  set key(value) {
    write(KEY, value);
    write(TOKEN, "");
  },
  /** Sign in with the ID token the identity provider issued. */
  set token(value) {
    write(KEY, "");
    write(TOKEN, value);
  },
  /** How the tab signed in: "key", "sso", or "" (not at all). */
  get kind() {
    if (read(KEY)) return "key";
    return read(TOKEN) ? "sso" : "";
  },
  /** Called with the server's detail on every 401. */
  onUnauthorized: null,
};

/** An error the server answered with; ``status`` 401 means "sign in". */
export class HttpError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** ``path`` (an event stream's URL) with the credential as ``access_token``. */
export function streamUrl(path) {
  const key = auth.key;
  if (!key) return path;
  const url = new URL(path, location.href);
  url.searchParams.set("access_token", key);
  return url.pathname + url.search;
}

/** fetch; a failure throws an Error carrying the problem+json ``detail``. */
export async function request(path, { method = "GET", body, headers = {}, accept } = {}) {
  const init = { method, headers: { accept: accept || "application/json", ...headers } };
  if (auth.key) init.headers.authorization = `Bearer ${auth.key}`;
  if (body instanceof FormData) {
    init.body = body; // fetch writes the multipart content-type with its boundary
  } else if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new Error(`Cannot reach the server (${error.message}).`);
  }
  if (!response.ok) {
    const data = isJson(response) ? await response.json().catch(() => null) : null;
    const message = data?.detail || data?.title || `${response.status} ${response.statusText}`;
    if (response.status === 401) auth.onUnauthorized?.(message);
    throw new HttpError(message, response.status);
  }
  return response;
}

/** request() whose answer is JSON (or nothing). */
export async function api(path, options) {
  const response = await request(path, options);
  return isJson(response) ? response.json() : null;
}

/** Save what ``path`` answers as a file, named as its Content-Disposition says. A plain
 * link could not carry request headers, so the bytes are fetched and saved from a Blob. */
export async function download(path, fallbackName) {
  const response = await request(path, { accept: "*/*" });
  const blob = await response.blob();
  const name = attachmentName(response.headers.get("content-disposition")) || fallbackName;
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name, hidden: "" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000); // the download has started by then
}

function isJson(response) {
  return (response.headers.get("content-type") || "").includes("json");
}

/** The file name of a ``Content-Disposition`` (RFC 6266): ``filename*`` if readable. */
function attachmentName(disposition) {
  if (!disposition) return "";
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition);
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // malformed percent-encoding: use the plain name
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)/i.exec(disposition);
  return plain ? (plain[1] ?? plain[2]).trim() : "";
}
