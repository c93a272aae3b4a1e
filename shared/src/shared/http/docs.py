"""The development documentation pages, served by the service itself: nothing is loaded from a
CDN, so they work on a closed network.

/docs: Swagger UI, with the assets the `fastapi-offline` package ships (/docs/assets/).
/asyncapi: FastStream's AsyncAPI document rendered by the web component the `asyncapi-viewer`
package ships (/asyncapi/assets/); the document itself at /asyncapi.json and /asyncapi.yaml.

There is deliberately no try-it-out endpoint (FastStream's POST /asyncapi/try would publish
anything anyone sends to Kafka). Every page carries a Content-Security-Policy allowing only
this origin, and the one inline script Swagger UI's page needs, by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any

from asyncapi_viewer import assets as viewer  # type: ignore[import-untyped]  # no py.typed
from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from faststream.specification.base import SpecificationFactory

VIEWER_MODULE: str = viewer.VIEWER_MODULE  # asyncapi-viewer.js, an ES module
VIEWER_THEME: str = viewer.VIEWER_THEME  # asyncapi-theme.css
SWAGGER_ASSETS_PATH = "/docs/assets"
VIEWER_ASSETS_PATH = "/asyncapi/assets"

NOSNIFF = {"X-Content-Type-Options": "nosniff"}
# What both pages share: nothing but this origin, no plugins, no framing, no <base> tricks.
_POLICY = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'none'",
}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def content_security_policy(**extra: str) -> str:
    """The shared policy with directives widened: `script_src="'sha256-…'"` adds a source."""
    policy = dict(_POLICY)
    for name, sources in extra.items():
        directive = name.replace("_", "-")
        policy[directive] = f"{policy[directive]} {sources}" if directive in policy else sources
    return "; ".join(f"{directive} {sources}" for directive, sources in policy.items())


def inline_script_hashes(page: str) -> list[str]:
    """CSP sources ('sha256-…') for every inline <script> of a page."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(page)
    ]


def _swagger_static() -> Path:
    static = Path(str(files("fastapi_offline") / "static"))
    if not static.is_dir():
        raise RuntimeError(f"{static} is missing: fastapi-offline is not installed as files")
    return static


def _viewer_file(name: str) -> Path:
    return Path(viewer.static_path(name))


def _viewer_integrity(name: str) -> str:
    """The file's Subresource Integrity hash, from the package's manifest."""
    return str(viewer.integrity(name))


def _file_route(path: Path, media_type: str) -> Callable[[], Any]:
    async def asset() -> FileResponse:
        return FileResponse(path, media_type=media_type, headers=NOSNIFF)

    return asset


def _serve_files(router: APIRouter, prefix: str, assets: Mapping[str, tuple[Path, str]]) -> None:
    """One GET route per file: only the files the pages use are served, nothing else."""
    for name, (path, media_type) in assets.items():
        router.add_api_route(
            f"{prefix}/{name}", _file_route(path, media_type), include_in_schema=False
        )


def swagger_router(
    *, title: str, openapi_url: str, swagger_ui_parameters: dict[str, Any] | None = None
) -> APIRouter:
    """/docs: Swagger UI on the app's OpenAPI document, assets from fastapi-offline."""
    router = APIRouter(include_in_schema=False)
    static = _swagger_static()
    _serve_files(
        router,
        SWAGGER_ASSETS_PATH,
        {
            "swagger-ui-bundle.js": (static / "swagger-ui-bundle.js", "text/javascript"),
            "swagger-ui.css": (static / "swagger-ui.css", "text/css"),
            "favicon.png": (static / "favicon.png", "image/png"),
        },
    )

    @router.get("/docs")
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{SWAGGER_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{SWAGGER_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{SWAGGER_ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=swagger_ui_parameters,
        )
        body = bytes(page.body).decode()
        policy = content_security_policy(
            # the page's own `SwaggerUIBundle({...})` call, by its hash (not 'unsafe-inline'),
            # and the data: SVG icons of swagger-ui.css; its styles need nothing inline
            script_src=" ".join(inline_script_hashes(body)),
            img_src="data:",
        )
        return HTMLResponse(body, headers={"Content-Security-Policy": policy, **NOSNIFF})

    return router


ASYNCAPI_PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - AsyncAPI</title>
<link rel="icon" href="{assets}/favicon.png">
<script type="module" src="{assets}/{module}" integrity="{module_integrity}"></script>
<link rel="stylesheet" href="{assets}/{theme}" integrity="{theme_integrity}">
</head>
<body>
<asyncapi-viewer src="{document}" sidebar></asyncapi-viewer>
</body>
</html>
"""


def asyncapi_router(*, title: str, specification: SpecificationFactory) -> APIRouter:
    """/asyncapi (the page), /asyncapi.json and /asyncapi.yaml. The document is built on each
    request, so publishers and subscribers declared after the app are in it too."""
    router = APIRouter(tags=["documentation"])
    _serve_files(
        router,
        VIEWER_ASSETS_PATH,
        {
            VIEWER_MODULE: (_viewer_file(VIEWER_MODULE), "text/javascript"),
            VIEWER_THEME: (_viewer_file(VIEWER_THEME), "text/css"),
            "favicon.png": (_swagger_static() / "favicon.png", "image/png"),
        },
    )
    policy = content_security_policy()

    @router.get("/asyncapi", response_class=HTMLResponse, summary="AsyncAPI document, rendered")
    async def asyncapi_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = ASYNCAPI_PAGE.format(
            title=escape(title),
            assets=root + VIEWER_ASSETS_PATH,
            module=VIEWER_MODULE,
            module_integrity=_viewer_integrity(VIEWER_MODULE),
            theme=VIEWER_THEME,
            theme_integrity=_viewer_integrity(VIEWER_THEME),
            document=f"{root}/asyncapi.json",
        )
        return HTMLResponse(page, headers={"Content-Security-Policy": policy, **NOSNIFF})

    @router.get("/asyncapi.json", summary="AsyncAPI document (JSON)")
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(specification.to_specification().to_jsonable(), headers=NOSNIFF)

    @router.get(
        "/asyncapi.yaml",
        summary="AsyncAPI document (YAML)",
        response_class=Response,
        responses={200: {"content": {"application/yaml": {}}}},
    )
    async def asyncapi_yaml() -> Response:
        return Response(
            specification.to_specification().to_yaml(),
            media_type="application/yaml",
            headers=NOSNIFF,
        )

    return router


def docs_routers(
    *,
    title: str,
    openapi_url: str,
    specification: SpecificationFactory,
    swagger_ui_parameters: dict[str, Any] | None = None,
) -> tuple[APIRouter, APIRouter]:
    """Both pages' routers, for `app.include_router` (development only)."""
    return (
        swagger_router(
            title=title, openapi_url=openapi_url, swagger_ui_parameters=swagger_ui_parameters
        ),
        asyncapi_router(title=title, specification=specification),
    )
