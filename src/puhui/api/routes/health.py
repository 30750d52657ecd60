"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from puhui import __version__
from puhui.api.deps import ContainerDep
from puhui.api.schemas.operations import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, response_model_exclude_unset=True)
def healthz(container: ContainerDep) -> dict[str, str]:
    container.db.read(lambda conn: conn.execute(text("SELECT 1")).scalar_one())
    return {"status": "ok", "version": __version__, "database": container.db.dialect}
