"""Interactive API docs at /v1/docs, served with no internet: Swagger UI comes from an installed package.

FastAPI's default page loads Swagger UI from a CDN, so it is blank offline (a site's login node, a
laptop on a train). The `swagger-ui-bundle-v2` package ships Swagger UI's dist files; they are mounted
under /v1/docs/assets and the page points at them. The page keeps the key a user enters in
"Authorize" for the session's requests ("Try it out" sends `Authorization: Bearer <key>`).
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/v1/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
ASSETS_DIR = Path(str(swagger_ui_bundle.swagger_ui_path))


def install(app: FastAPI, openapi_url: str) -> None:
    """Serve the Swagger UI page and its assets; FastAPI's own CDN page must be off (docs_url=None)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="swagger-ui-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )
