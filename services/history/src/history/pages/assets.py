"""The pages' own static files (no CDN: the Help Centre may run in a closed network)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

from history.pages.signin import PAGE

ASSETS = {"style.css": "text/css", "suggest.js": "text/javascript"}

router = APIRouter(include_in_schema=False)


@cache
def _asset(name: str) -> bytes:
    return files("history").joinpath("static", name).read_bytes()


def _serve(name: str) -> Response:
    return Response(
        _asset(name),
        media_type=ASSETS[name],
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/static/style.css")
@router.get(f"{PAGE}/static/style.css")  # where earlier pages linked it
async def stylesheet() -> Response:
    return _serve("style.css")


@router.get("/static/suggest.js")
async def suggest_script() -> Response:
    return _serve("suggest.js")
