"""uvicorn's httptools protocol with the bounds it lacks: request heads of bounded size
that must arrive in time, and bodies that must keep arriving.

httptools reads a head of any size (32 MB of headers were answered 200), and uvicorn
waits for a head or a body as long as a client dribbles it (slowloris: 200 sockets held
for minutes). These bounds live at the connection, before the application — no ASGI
middleware sees a request before its head is complete (ADR 0015).
"""

import asyncio
import http
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from chatorch.domain.ids import new_id
from chatorch.settings import Settings

MAX_HEAD_BYTES = 32 * 1024  # request line and headers together, as nginx's default buffers
HEAD_TIMEOUT = 10.0  # s from a connection's opening (or a new request's first byte) to its head
BODY_IDLE_TIMEOUT = 30.0  # s a body may pause while the app waits for it: then closed
LINGER = 2.0  # s a refused client still sending may take to read the answer before the close
WS_PING = 20.0  # s between WebSocket pings, and the longest wait for a pong


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Refuse a head over ``max_head_bytes`` (431) or not in within ``head_timeout``
    (408), each an RFC 9457 problem, and close a connection whose body stalls for
    ``body_idle_timeout``; otherwise uvicorn's protocol unchanged."""

    max_head_bytes = MAX_HEAD_BYTES
    head_timeout = HEAD_TIMEOUT
    body_idle_timeout = BODY_IDLE_TIMEOUT

    url = b""  # uvicorn sets it per message; a connection's first head may not have one yet
    _head_bytes = 0
    _refusal: tuple[int, str] | None = None
    _deadline: asyncio.TimerHandle | None = None
    _lingering = False
    _in_head = True  # between a request's start (or the connection's) and its last header

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self.transport = _LingeringTransport(self.transport, self)  # type: ignore[assignment]
        self._arm(self.head_timeout, "the request head did not arrive in time")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None or self._lingering:
            return  # answered already: what still comes is dropped until the close
        super().data_received(data)

    def eof_received(self) -> None:
        if self._lingering:
            self._close_now()  # the client has stopped sending: the close is clean now
            return
        super().eof_received()

    def linger(self) -> None:
        """Close once the client has read the answer: stop writing (FIN), drop what it
        still sends, close at its EOF or after ``LINGER`` s. Closing a socket with
        unread data resets it, and the client may lose the answer it has not read."""
        real = _real(self.transport)
        if self._lingering or real.is_closing():
            return
        self._lingering = True
        self._disarm()
        if real.can_write_eof():
            real.write_eof()
        self.flow.resume_reading()  # uvicorn may have paused it: read on, to drop it
        self._deadline = self.loop.call_later(LINGER, self._close_now)

    def _close_now(self) -> None:
        self._disarm()
        _real(self.transport).close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._in_head = True
        self._arm(self.head_timeout, "the request head did not arrive in time")

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._arm(self.body_idle_timeout, "the request body stopped arriving")
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm(self.body_idle_timeout, "the request body stopped arriving")
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parse error: ours, when the error was a refusal."""
        if self._refusal is None:
            super().send_400_response(msg)
        elif self._answering():
            self._close_now()  # a refusal now would land inside the answer being sent
        else:
            self._send_problem(*self._refusal)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_head_bytes:
            self._refusal = (
                431,
                f"the request head is over {self.max_head_bytes} bytes; send fewer or"
                " shorter headers",
            )
            raise _Refused  # stops the parser; uvicorn then calls send_400_response

    def _arm(self, seconds: float, why: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire, seconds, why)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, seconds: float, why: str) -> None:
        self._deadline = None
        if self.flow.read_paused:  # the app is not reading: the client is not to blame
            self._arm(seconds, why)
            return
        if self.transport.is_closing():
            return
        if not self._in_head or self._answering():
            self._close_now()  # the app has the request (it sees a disconnect), or answered
            return
        self._refusal = (408, f"{why} ({seconds:g} s)")
        self._send_problem(*self._refusal)

    def _answering(self) -> bool:
        """Whether an answer to an earlier request is still being written."""
        return self.cycle is not None and not self.cycle.response_complete

    def _send_problem(self, status: int, detail: str) -> None:
        phrase = http.HTTPStatus(status).phrase
        code = phrase.lower().replace(" ", "_")
        body = orjson.dumps(
            {
                "type": f"urn:chatorch:problem:{code}",
                "title": phrase.capitalize(),
                "status": status,
                "detail": detail,
                "instance": self.url.decode("latin-1").partition("?")[0] if self.url else "",
                "code": code,
                "request_id": str(new_id()),
            }
        )
        head = (
            f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        self.linger()


class _LingeringTransport:
    """The connection's transport as uvicorn's request cycle sees it: its ``close`` of a
    connection whose request body was not read in full lingers (``linger``) instead."""

    def __init__(self, transport: asyncio.Transport, protocol: BoundedHttpToolsProtocol) -> None:
        self.real = transport
        self._protocol = protocol

    def close(self) -> None:
        cycle = self._protocol.cycle
        if cycle is not None and cycle.more_body:
            self._protocol.linger()
        else:
            self.real.close()

    def is_closing(self) -> bool:
        return self._protocol._lingering or self.real.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _real(transport: Any) -> asyncio.Transport:
    found: asyncio.Transport = getattr(transport, "real", transport)
    return found


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a request that is refused."""


def bounded_protocol(
    *,
    max_head_bytes: int = MAX_HEAD_BYTES,
    head_timeout: float = HEAD_TIMEOUT,
    body_idle_timeout: float = BODY_IDLE_TIMEOUT,
) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for ``uvicorn.Config(http=…)``, with these bounds."""
    return type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {
            "max_head_bytes": max_head_bytes,
            "head_timeout": head_timeout,
            "body_idle_timeout": body_idle_timeout,
        },
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """What every uvicorn server of the API runs with: the bounded protocol, and
    ``X-Forwarded-For``/``-Proto`` believed from CHATORCH_TRUSTED_PROXIES only."""
    trusted = settings.trusted_proxies
    return {
        "http": bounded_protocol(),
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": list(trusted) if trusted else None,
        # WebSocket frames are requests too: none larger than a request body. The
        # protocol pings every WS_PING s and closes a socket whose pong is that late.
        "ws_max_size": settings.max_body_bytes,
        "ws_ping_interval": WS_PING,
        "ws_ping_timeout": WS_PING,
    }
