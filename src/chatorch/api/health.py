"""Liveness, readiness and Prometheus metrics: open to probes, never behind auth."""

from fastapi import APIRouter, Response

from chatorch.api.deps import ContainerDep
from chatorch.api.schemas import Health

router = APIRouter(tags=["operations"])
metrics_router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive and serving requests."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(c: ContainerDep, response: Response) -> Health:
    """200 while the critical services answer (``degraded`` if another does not); else 503."""
    checks = await c.readiness()
    if not all(check["ok"] for check in checks.values() if check["critical"]):
        response.status_code = 503
        return Health(status="unavailable", checks=checks)
    degraded = not all(check["ok"] for check in checks.values())
    return Health(status="degraded" if degraded else "ok", checks=checks)


@metrics_router.get("/metrics", response_class=Response)
async def metrics(c: ContainerDep) -> Response:
    return Response(c.metrics.render(), media_type=c.metrics.content_type)
