"""What every JSON API route (``/api/v1``) shares in its OpenAPI documentation.

* :class:`ApiError` is the error body ``service.app`` answers with on the API:
  ``{"error": "...", "status": 4xx}``, plus ``fields`` (what was wrong, per field) on
  validation errors and ``detail`` (where in the request) when the request could not be
  parsed at all.
* :func:`errors` gives a route's documented error responses, e.g.
  ``@put(..., responses=errors(400, 404, 409, 413, 422))``; 401 (no or bad API key) is
  always included, since every API route is behind ``api_guard``.
* ``SECURITY``/``SECURITY_SCHEMES``: the bearer token (``Authorization: Bearer <key>``).
* :class:`SelfHostedRedoc` renders the reference at ``/api/schema`` from our own files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme

BEARER = "ApiNyckel"
SECURITY: list[SecurityRequirement] = [{BEARER: []}]
COMPONENTS = Components(
    security_schemes={
        BEARER: SecurityScheme(
            type="http",
            scheme="bearer",
            description="API-nyckel från /redaktion/nycklar eller `innanforskapet editors "
            "token create`: `Authorization: Bearer <nyckel>`.",
        )
    }
)


@dataclass
class ApiError:
    """An error answer: a Swedish message and the HTTP status."""

    error: str
    status: int
    fields: dict[str, str] | None = None
    detail: list[dict[str, Any]] | dict[str, Any] | None = None


ERROR_DESCRIPTIONS = {
    400: "Förfrågan kunde inte tolkas: ogiltig JSON, fel typ på ett fält eller en parameter "
    "(`detail` anger var).",
    401: "API-nyckel saknas, är ogiltig eller återkallad.",
    404: "Det efterfrågade finns inte.",
    409: "Konflikt med hur det är nu: utskicket har ändrats sedan `version` lästes, eller "
    "dess status tillåter inte åtgärden.",
    413: "Förfrågan är för stor.",
    422: "Uppgifterna innehåller fel; `fields` anger vad som är fel per fält.",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """The documented error responses of an API route (401 is always one of them)."""
    return {
        code: ResponseSpec(
            data_container=ApiError,
            description=ERROR_DESCRIPTIONS[code],
            generate_examples=False,
        )
        for code in sorted({401, *codes})
    }


REDOC_JS = "/static/vendor/redoc/redoc.standalone.js"


class SelfHostedRedoc(OpenAPIRenderPlugin):
    """The API reference at ``/api/schema``: Redoc served from our own static files.

    Litestar's viewers load their scripts and fonts from CDNs, so the reference was blank
    offline and the documentation page needed a CSP that trusts those hosts. This page
    is ``templates/pages/api_schema.html``: the vendored Redoc bundle
    (``templates/static/vendor/redoc``) reads the schema from ``openapi.json`` by the
    ``spec-url`` of its ``<redoc>`` element, with no inline script and no other origin.
    """

    def __init__(self) -> None:
        super().__init__(path=["/", "/redoc"], favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        engine = request.app.template_engine
        if engine is None:  # pragma: no cover - create_app always configures templates
            raise RuntimeError("templates are not configured")
        page: str = engine.get_template("pages/api_schema.html").render(
            title=openapi_schema["info"]["title"],
            spec_url=self.get_openapi_json_route(request),
            redoc_js=REDOC_JS,
        )
        return page.encode("utf-8")
