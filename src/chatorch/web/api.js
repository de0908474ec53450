// Every call the page makes to the server goes through request(), so headers are set in
// one place. The page sends no credential: it is the page of the embedded, local mode
// (docs/api.md#authentication), where a request without one acts as the local user.

import { el } from "./dom.js";

/** fetch; a failure throws an Error carrying the problem+json ``detail``. */
export async function request(path, { method = "GET", body, headers = {}, accept } = {}) {
  const init = { method, headers: { accept: accept || "application/json", ...headers } };
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
    throw new Error(data?.detail || data?.title || `${response.status} ${response.statusText}`);
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
