// Single sign-on with the identity provider the server names (GET /v1/auth/config): the
// OAuth 2.0 authorization code flow with PKCE (RFC 7636, S256) for a public client, with
// WebCrypto alone. The user goes to the provider and comes back to this page with
// ?code&state; the page checks the state, trades the code at the token endpoint (a
// CORS request the page's Content-Security-Policy allows then) and keeps the ID token —
// whose audience is this page's client id, and which is a JWT the server can check,
// where an access token may be opaque (docs/security.md#single-sign-on-oidc).

import { auth } from "./api.js";

const PENDING = "chatorch.sso"; // state and code_verifier of the sign-in under way
const CALLBACK = ["code", "state", "error", "error_description", "error_uri", "iss", "session_state"];

/** The page's own URL, without query or fragment: where the provider sends the user back. */
export const redirectUri = () => location.origin + location.pathname;

function base64url(buffer) {
  const text = String.fromCharCode(...new Uint8Array(buffer));
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const random = (bytes) => base64url(crypto.getRandomValues(new Uint8Array(bytes)));

/** Go to the provider to sign in; resolves never (the page unloads) or throws why not. */
export async function beginSignIn(oidc) {
  if (!crypto.subtle) {
    throw new Error("Single sign-on needs this page over HTTPS (or on localhost).");
  }
  const verifier = random(32); // 43 characters, RFC 7636 §4.1
  const state = random(16);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  try {
    sessionStorage.setItem(PENDING, JSON.stringify({ state, verifier, back: location.hash }));
  } catch {
    throw new Error("Single sign-on needs this tab's session storage, which is disabled.");
  }
  const url = new URL(oidc.authorization_endpoint);
  const params = {
    response_type: "code",
    client_id: oidc.client_id,
    redirect_uri: redirectUri(),
    scope: oidc.scopes,
    state,
    code_challenge: base64url(digest),
    code_challenge_method: "S256",
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  location.assign(url.href);
}

/** The sign-in under way in this tab, taken out of storage: each is finished once. */
function takePending() {
  try {
    const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
    sessionStorage.removeItem(PENDING);
    return pending;
  } catch {
    return null;
  }
}

/**
 * Finish a sign-in if the provider just sent the user back here. Returns null when it
 * did not; else "" once signed in, or the message saying why the sign-in failed. The
 * code and state leave the address bar either way.
 */
export async function finishSignIn(oidc) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return null;
  const pending = takePending();
  const rest = new URLSearchParams(location.search);
  for (const name of CALLBACK) rest.delete(name);
  const query = rest.toString();
  history.replaceState(null, "", location.pathname + (query ? `?${query}` : "") + (pending?.back || location.hash));
  if (params.has("error")) {
    const why = params.get("error_description") || params.get("error");
    return `The identity provider did not sign you in: ${why} (${params.get("error")}).`;
  }
  if (!pending || params.get("state") !== pending.state) {
    return "The sign-in could not be finished: it was not started in this tab, or its link is stale. Sign in again.";
  }
  if (!oidc) return "Single sign-on is not available right now; try again later or use an API key.";
  return exchange(oidc, params.get("code"), pending.verifier);
}

/** Trade the code for tokens (RFC 6749 §4.1.3, with the PKCE verifier); "" or why not. */
async function exchange(oidc, code, verifier) {
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri(),
    client_id: oidc.client_id,
    code_verifier: verifier,
  });
  let response;
  try {
    response = await fetch(oidc.token_endpoint, {
      method: "POST", body, headers: { accept: "application/json" }, credentials: "omit",
    });
  } catch (error) {
    return `Cannot reach the identity provider's token endpoint (${error.message}); is CORS allowed for this page there?`;
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const why = data?.error_description || data?.error || `${response.status} ${response.statusText}`;
    return `The identity provider refused the sign-in: ${why}.`;
  }
  if (typeof data?.id_token !== "string" || !data.id_token) {
    return "The identity provider sent no ID token: the scope must include openid.";
  }
  auth.token = data.id_token;
  return "";
}
