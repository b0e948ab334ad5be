"""The API reference, offline: Swagger UI at /docs, ReDoc at /redoc.

Both read /api/openapi.json and load only files vendored under static/vendor/
(see vendor.mjs), so the reference works on a machine without internet.
/api/docs, where the reference used to be, redirects to /docs.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.web.routes import templates

# Like the dashboard's policy, plus what the two renderers need: ReDoc writes its
# styles into <style> elements and searches in a worker it starts from a blob.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

router = APIRouter(tags=["docs"], include_in_schema=False)


def _reference(request: Request, renderer: str) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        "api_docs.html",
        {
            "renderer": renderer,
            "openapi_url": request.app.openapi_url,
            "title": request.app.title,
        },
    )
    response.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI: every operation, its schemas, and "Try it out"."""
    return _reference(request, "swagger")


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc: the same reference as one long, searchable page."""
    return _reference(request, "redoc")


@router.get("/api/docs")
def old_docs_address() -> RedirectResponse:
    """Where the reference used to be."""
    return RedirectResponse("/docs", status_code=308)
