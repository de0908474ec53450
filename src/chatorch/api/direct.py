"""Direct routes: the message path's endpoints read the request and answer it themselves.

FastAPI resolves every route's dependencies, parameters, body and response model on
each request through its general machinery. On the three requests of every answer
(create a chat, post the message, open its stream) that machinery cost more CPU than
the work it wrapped (ADR 0013). A direct route is still a FastAPI route — routed, in
the OpenAPI document with its parameters, body and responses, its errors answered by
the same problem handlers — but its handler is the endpoint itself, an
``async (Request) -> Response`` that reads its inputs with pydantic models through the
helpers here, which fail the way FastAPI would (``RequestValidationError``).
"""

import functools
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from chatorch.api.deps import require_json

M = TypeVar("M", bound=BaseModel)
Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    """A route whose handler is its endpoint, with nothing resolved in between."""

    def get_route_handler(self) -> Endpoint:
        endpoint: Endpoint = self.endpoint
        return endpoint


def router(prefix: str = "", *, tags: list[str]) -> APIRouter:
    """A router whose routes are direct; ``add_direct`` puts them into the app."""
    return APIRouter(prefix=prefix, tags=list(tags), route_class=DirectRoute)


def add_direct(app: FastAPI, *routers: APIRouter) -> None:
    """Put the routers' routes into the app's own router, ahead of the included ones.

    Included routers are matched twice per request (once to choose the router, again
    to choose its route); these routes are matched once, and first.
    """
    app.router.routes[:0] = [route for each in routers for route in each.routes]


def parameters(request: Request, where: str, model: type[M]) -> M:
    """``where``'s values (``path``, ``query`` or ``header``) as ``model``.

    A header field names its header by its alias (``idempotency-key``).
    """
    values: dict[str, Any]
    if where == "path":
        values = request.path_params
    elif where == "query":
        values = dict(request.query_params)
    else:
        headers = request.headers
        values = {name: headers[name] for name in _names(model) if name in headers}
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise _invalid(error, where) from None


async def body(request: Request, model: type[M]) -> M | None:
    """The JSON body as ``model``; None when there is none."""
    raw = await request.body()
    if not raw:
        return None
    require_json(request)
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise _invalid(error, "body") from None


def required(found: M | None) -> M:
    """A body the route cannot do without: its absence is FastAPI's 422."""
    if found is None:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    return found


def json_response(
    content: BaseModel, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(content.model_dump_json(), status, headers, media_type="application/json")


def documented(*, body: type[BaseModel] | None = None, **where: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI words for what a direct route reads (FastAPI cannot see it): its
    ``path``/``query``/``header`` parameters from those models, and its JSON body."""
    listed = []
    for location, model in where.items():
        properties = model.model_json_schema(by_alias=True)["properties"]
        for name, field in model.model_fields.items():
            key = field.alias or name
            listed.append(
                {
                    "name": key,
                    "in": location,
                    "required": field.is_required(),
                    "schema": properties[key],
                }
                | ({"description": field.description} if field.description else {})
            )
    extra: dict[str, Any] = {"parameters": listed}
    if body is not None:
        schema = body.model_json_schema()
        content = {"application/json": {"schema": schema}}
        # A body with a required field must be sent; one without may be left out.
        extra["requestBody"] = {"required": "required" in schema, "content": content}
    return extra


@functools.cache
def _names(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(field.alias or name for name, field in model.model_fields.items())


def _invalid(error: ValidationError, where: str) -> RequestValidationError:
    return RequestValidationError(
        [{**detail, "loc": (where, *detail["loc"])} for detail in error.errors()]
    )
