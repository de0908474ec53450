"""Requests only from where they should come: Host and Origin checks, before anything else.

Without API keys every request acts as the local admin, so a web page that rebinds its
own name to 127.0.0.1 (DNS rebinding) could read every chat and mint keys: with keys
off, only loopback names (and ``CHATORCH_ALLOWED_HOSTS``) are served. A cross-site
form can POST without CORS's consent, so a state-changing request whose ``Origin`` is
neither this server nor a ``CHATORCH_CORS_ORIGINS`` entry is refused, keys or not.
Probes (``/healthz``, ``/readyz``, ``/metrics``) answer any Host: a kubelet names the
pod by its address, and they reveal nothing.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from chatorch.api.problems import problem

LOOPBACK_NAMES = ("localhost", "*.localhost")  # RFC 6761: always the loopback
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class HostGuard:
    """Refuse (400) a Host this server does not answer to, and (403) a state-changing
    request from a foreign Origin; both as problems, before the body is read."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Sequence[str],
        local_only: bool,
        trusted_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self._patterns = [h.lower() for h in allowed_hosts]
        if local_only:
            self._patterns += LOOPBACK_NAMES
        self._any_host = not local_only and not allowed_hosts
        self._local_only = local_only
        self._origins = {key for origin in trusted_origins if (key := _origin_key(origin))}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, title, code, detail = refusal
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
            return
        response = problem(status, title, detail, code=code, request=Request(scope))
        await response(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str, str, str] | None:
        """(status, title, code, detail) of the refusal this request earns; None: serve it."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not self._any_host and scope["path"] not in PROBES and not self._serves(host):
            return 400, "Host not served", "host_not_allowed", self._host_detail(host)
        origin = headers.get("origin")
        changes = scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS
        if origin is None or not changes:
            return None
        key = _origin_key(origin)
        if key is not None and (key == _host_key(host, scope) or key in self._origins):
            return None
        detail = (
            f"Origin {origin!r} is not this server; a page elsewhere cannot change anything"
            " here (allow it in CHATORCH_CORS_ORIGINS)"
        )
        return 403, "Cross-site request refused", "cross_site_request", detail

    def _serves(self, host: str) -> bool:
        name = _host_name(host)
        if not name:
            return False
        if any(_matches(name, pattern) for pattern in self._patterns):
            return True
        return self._local_only and _is_loopback_address(name)

    def _host_detail(self, host: str) -> str:
        why = (
            "without API keys (CHATORCH_AUTH_REQUIRED) only loopback names are served"
            if self._local_only
            else "it is not in CHATORCH_ALLOWED_HOSTS"
        )
        return f"Host {host!r} is not served: {why}; add the name to CHATORCH_ALLOWED_HOSTS"


def _host_name(host: str) -> str:
    """The name of a Host header, without its port: ``[::1]:8000`` → ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_loopback_address(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _matches(name: str, pattern: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return name.endswith(pattern[1:]) or name == pattern[2:]
    return name == pattern


def _origin_key(origin: str) -> str | None:
    """``host:port`` of an origin, with the scheme's default port filled in; None for
    what names no host and port ("null", a port that is no number), which matches nothing."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        return None
    return f"{parts.hostname}:{port}" if parts.hostname else None


def _host_key(host: str, scope: Scope) -> str | None:
    """``host:port`` this request was sent to, as an origin would name it."""
    return _origin_key(f"{scope.get('scheme', 'http')}://{host}")
