"""RFC 9457 problem details: the one place errors become HTTP responses."""

import math
from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match

from chatorch.api.schemas import NO_NUL, NOT_BLANK
from chatorch.domain.errors import (
    ChatorchError,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
)

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    code: str,
    request: Request,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {
        "type": f"urn:chatorch:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
        "request_id": getattr(request.state, "request_id", None),
        **extra,
    }
    return Response(orjson.dumps(body), status, headers=headers, media_type=PROBLEM_JSON)


async def render_error(request: Request, error: Exception) -> Response:
    """A ``ChatorchError`` as its problem, with the headers its kind calls for."""
    assert isinstance(error, ChatorchError)
    headers = None
    if isinstance(error, ServiceUnavailable):
        headers = {"Retry-After": str(error.retry_after)}
    elif isinstance(error, RateLimited):
        headers = {"Retry-After": str(max(1, math.ceil(error.retry_after_seconds)))}
    elif isinstance(error, Unauthenticated):
        headers = {"WWW-Authenticate": 'Bearer realm="chatorch"'}  # RFC 6750
    if error.status >= 500:
        log.error("request.failed", code=error.code, detail=error.detail)
    return problem(
        error.status, error.title, error.detail, code=error.code, request=request, headers=headers
    )


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [_describe(e) for e in error.errors()]
    malformed = [_malformed(e) for e in error.errors() if e["type"] == "json_invalid"]
    if malformed:
        return problem(
            400,
            "Malformed JSON",
            "the request body is not valid JSON: " + "; ".join(malformed),
            code="malformed_json",
            request=request,
        )
    return problem(
        422,
        "Invalid input",
        "; ".join(errors),
        code="invalid_input",
        request=request,
        errors=errors,
    )


def _malformed(error: Any) -> str:
    """What the JSON parser said, and where, whichever parser it was."""
    text = str(error.get("msg", "invalid JSON"))
    said = (error.get("ctx") or {}).get("error")
    if said and str(said) not in text:
        text += f": {said}"
    position = [part for part in error.get("loc", ()) if isinstance(part, int)]
    return text + (f" (character {position[0]})" if position else "")


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    text = f"{where or 'body'}: {error.get('msg', 'invalid')}"
    pattern = (error.get("ctx") or {}).get("pattern")
    if pattern in _PATTERN_WORDS:  # the schema's text rules, in words
        return f"{where or 'body'}: {_PATTERN_WORDS[pattern]}"
    if error.get("type") == "string_pattern_mismatch":  # say what did not match
        text += f" (got {str(error.get('input'))[:60]!r})"
    return text


_PATTERN_WORDS = {
    NO_NUL: "must not contain a NUL character (\\u0000)",
    NOT_BLANK: "must hold a character that is not a space, and no NUL (\\u0000)",
}

# The router's and the body limit's refusals, in our words (with the framework's
# default phrase, "Not Found", as the detail, a problem would tell the caller nothing).
_HTTP_PROBLEMS = {
    404: ("Not found", "not_found"),
    405: ("Method not allowed", "method_not_allowed"),
    413: ("Request body too large", "body_too_large"),
}


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    status = error.status_code
    title, code = _HTTP_PROBLEMS.get(status, ("Request refused", "request_refused"))
    headers = dict(error.headers or {})
    detail = str(error.detail)
    if status == 405:
        allowed = _allowed_methods(request) or headers.get("Allow", "")
        detail = f"{request.method} is not allowed on {request.url.path}"
        if allowed:
            headers["Allow"] = allowed
            detail += f"; use {allowed}"
    elif status == 404 and detail == HTTPStatus.NOT_FOUND.phrase:
        detail = f"nothing is at {request.url.path}"
    return problem(status, title, detail, code=code, request=request, headers=headers)


def body_too_large(request: Request, detail: str) -> Response:
    """The 413 the body limit sends before the app runs (so no handler sees it); the
    connection closes after it, so a body still on its way is not read."""
    title, code = _HTTP_PROBLEMS[413]
    headers = {"Connection": "close"}
    return problem(413, title, detail, code=code, request=request, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method some route answers at this path. The router's own 405 names only
    the first route it tried (``POST /v1/chats``, not ``GET /v1/chats`` too), so each
    method is tried against the routes, through their public ``matches``."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return ", ".join(allowed)


async def _abandoned(request: Request, error: Exception) -> Response:
    """The client left while its body was being read: no one to answer, nothing broke."""
    log.info("request.abandoned", path=request.url.path)
    return problem(
        400,
        "Request abandoned",
        "the client disconnected before its request body arrived",
        code="request_abandoned",
        request=request,
    )


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("request.crashed", exc_info=error)
    return problem(
        500,
        "Internal error",
        "chatorch failed on this request; the server log has the details under this request_id",
        code="internal",
        request=request,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(ChatorchError, render_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _abandoned)
    app.add_exception_handler(Exception, _unexpected)


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of the API is answered."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str
    request_id: str | None = None
    errors: list[str] | None = None


_V1_ERRORS = {
    "400": "Malformed JSON",
    "401": "Authentication required",
    "403": "Forbidden",
    "404": "Not found",
    "409": "Conflict",
    "413": "Content or body too large",
    "415": "Not JSON",
    "422": "Invalid input",
    "429": "Too many requests",
    "503": "A backing service is unavailable",
}


BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "an API key (`chatorch keys create`) or an OIDC access token; "
    "optional unless CHATORCH_AUTH_REQUIRED. Event streams also take `?access_token=`.",
}


def document(app: FastAPI) -> None:
    """Make the OpenAPI schema say what errors really look like: problem+json, and how
    callers authenticate (``deps.current_principal`` reads the header itself)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema()
        schema["components"]["securitySchemes"] = {"bearer": BEARER}
        reference = {"$ref": "#/components/schemas/Problem"}
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith("/v1/"):
                continue
            for operation in operations.values():
                operation["security"] = [{"bearer": []}, {}]  # {}: or none, when optional
                responses = operation.setdefault("responses", {})
                for status, description in _V1_ERRORS.items():
                    responses[status] = {
                        "description": description,
                        "content": {PROBLEM_JSON: {"schema": reference}},
                    }
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
