"""HTTP tools: any JSON or text endpoint — an n8n webhook too — as a tool for the model.

The model chooses the arguments, so they only ever fill URL-encoded ``{placeholders}``
in the path or query of a configured URL, never its scheme or host (the configured
headers, often credentials, must not be sent to a host the model picks), and redirects
are not followed for the same reason. Header values are secrets: they never appear in
logs, errors or ``repr``, and are scrubbed from what a careless server echoes back.
"""

import json
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx

from chatorch.domain.errors import ToolFailed
from chatorch.domain.llm import ToolSpec

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
QUERY_METHODS = frozenset({"GET", "DELETE"})
"""Methods whose arguments travel as query parameters; the others send a JSON body."""

MAX_RESPONSE_BYTES = 1_000_000  # read no more: the registry keeps only a few kB anyway
_ERROR_BODY_CHARS = 200
_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SPACE_RE = re.compile(r"\s+")
_MIN_SECRET_CHARS = 6  # shorter values would redact ordinary words
_PUBLIC_HEADERS = frozenset(
    {"accept", "accept-language", "content-type", "user-agent", "cache-control"}
)


def url_placeholders(url: str) -> list[str]:
    """The ``{name}`` placeholders of a URL template, in order."""
    return _PLACEHOLDER_RE.findall(url)


def check_url_template(url: str, properties: Mapping[str, Any]) -> None:
    """Refuse a URL template the tool could not fill safely.

    Raises:
        ValueError: not http(s), a placeholder in the scheme or host, stray braces, or
            a placeholder that is not one of the declared ``properties``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("url must be an absolute http:// or https:// URL")
    if "{" in parts.netloc or "}" in parts.netloc:
        raise ValueError("url placeholders may only be in the path or query, not the host")
    if "{" in _PLACEHOLDER_RE.sub("", url) or "}" in _PLACEHOLDER_RE.sub("", url):
        raise ValueError("url has a brace that is not a {name} placeholder")
    undeclared = [name for name in url_placeholders(url) if name not in properties]
    if undeclared:
        raise ValueError(
            f"url placeholder {', '.join(undeclared)} is not declared in parameters.properties"
        )


class HttpTool:
    """A tool that calls one HTTP endpoint; the response body is the model's result."""

    def __init__(
        self,
        *,
        name: str,
        description: str,
        url: str,
        client: httpx.AsyncClient,
        method: HttpMethod = "POST",
        parameters: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        schema = dict(parameters or {"type": "object", "properties": {}})
        check_url_template(url, schema.get("properties") or {})
        self._spec = ToolSpec(name=name, description=description, parameters=schema)
        self._method = method
        self._url = url
        self._client = client
        self._headers = dict(headers or {})
        self._timeout = timeout
        parts = urlsplit(url)
        self._host = parts.hostname or parts.netloc
        if parts.port is not None:
            self._host = f"{self._host}:{parts.port}"
        self._secrets = _secrets(self._headers)

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._spec.name

    def __repr__(self) -> str:
        return f"HttpTool(name={self._spec.name!r}, method={self._method}, host={self._host!r})"

    async def call(self, arguments: dict[str, Any]) -> str:
        url, rest = self._fill(arguments)
        try:
            request = self._request(url, rest)
        except httpx.InvalidURL as exc:
            raise ToolFailed(f"{self.name}: the arguments make an invalid URL: {exc}") from None
        try:
            response = await self._client.send(request, stream=True, follow_redirects=False)
            try:
                body, cut = await _read_capped(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            raise ToolFailed(
                f"{self.name}: {self._host} did not answer within {self._timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise ToolFailed(f"{self.name}: could not reach {self._host}: {_reason(exc)}") from None
        return self._result(response, body, cut)

    def _request(self, url: str, rest: dict[str, Any]) -> httpx.Request:
        if self._method not in QUERY_METHODS:
            return self._client.build_request(
                self._method, url, json=rest, headers=self._headers, timeout=self._timeout
            )
        params = {key: _query_value(value) for key, value in rest.items() if value is not None}
        # Merged by hand: httpx's params= would replace the URL's own query, and that
        # holds the configured defaults (an argument of the same name wins).
        return self._client.build_request(
            self._method,
            httpx.URL(url).copy_merge_params(params),
            headers=self._headers,
            timeout=self._timeout,
        )

    def _fill(self, arguments: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The URL with its placeholders filled, and the arguments still to send."""
        used: set[str] = set()

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in arguments or arguments[key] is None:
                raise ToolFailed(f"{self.name}: {key!r} is needed to build the URL")
            used.add(key)
            return _segment(key, arguments[key])

        url = _PLACEHOLDER_RE.sub(fill, self._url)
        return url, {key: value for key, value in arguments.items() if key not in used}

    def _result(self, response: httpx.Response, body: bytes, cut: bool) -> str:
        status = response.status_code
        text = self._scrub(_decode(body, response.encoding))
        if status >= 400:
            short = _short(text)
            detail = f": {short}" if short else ""
            raise ToolFailed(f"{self.name}: HTTP {status} from {self._host}{detail}")
        if status >= 300:
            raise ToolFailed(
                f"{self.name}: HTTP {status} from {self._host}: a redirect, which is not "
                "followed; configure the final URL"
            )
        if cut:
            return f"{text}\n[response cut at {MAX_RESPONSE_BYTES} bytes]"
        if not text.strip():
            return f"HTTP {status}, empty response"
        if _is_json(response.headers.get("content-type", "")):
            try:
                return json.dumps(json.loads(text), ensure_ascii=False)
            except ValueError:
                pass  # mislabelled: the text as it came is still useful
        return text

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def _secrets(headers: Mapping[str, str]) -> list[str]:
    """Header values (and their last word: ``Bearer <token>``) worth redacting."""
    found: set[str] = set()
    for key, value in headers.items():
        if key.lower() in _PUBLIC_HEADERS:
            continue
        for candidate in (value, *value.split()[-1:]):
            if len(candidate) >= _MIN_SECRET_CHARS:
                found.add(candidate)
    return sorted(found, key=len, reverse=True)  # longest first: the whole before its part


def _segment(key: str, value: object) -> str:
    text = _scalar(value)
    if text in (".", ".."):
        raise ToolFailed(f"{key!r} cannot be {text!r}")  # would climb the URL's path
    return quote(text, safe="")


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _query_value(value: object) -> str | list[str]:
    if isinstance(value, list):
        return [_scalar(item) for item in value]
    return _scalar(value)


async def _read_capped(response: httpx.Response) -> tuple[bytes, bool]:
    """Up to ``MAX_RESPONSE_BYTES`` of the (decoded) body, and whether it was cut."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            return b"".join(chunks)[:MAX_RESPONSE_BYTES], True
    return b"".join(chunks), False


def _decode(body: bytes, encoding: str | None) -> str:
    try:
        return body.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


def _short(text: str) -> str:
    flat = _SPACE_RE.sub(" ", text).strip()
    if len(flat) <= _ERROR_BODY_CHARS:
        return flat
    return flat[: _ERROR_BODY_CHARS - 1] + "…"


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:_ERROR_BODY_CHARS] if text else type(exc).__name__
