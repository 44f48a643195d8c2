"""`/` (the console), `/console/<asset>`, `/alerts/<id>` (where `alert.url` leads) and `/docs`.

The page and its assets carry no data and are open without an API key (a browser cannot
add a bearer header to a navigation); the console asks for a key when `/v1/…` answers
401 and sends it on every API call. A Content-Security-Policy of `'self'` keeps the
page from loading anything from another origin, whatever a future edit adds.

Assets are the files of `static/` read at start-up, so a request names one of a fixed
set (no path is ever joined with user input).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, raw, redirect

from delivery.request import ALERT_PAGE
from service.api_doc import HTML, Media, documented
from service.problems import Problem

bp = Blueprint("console")

STATIC_DIR = Path(__file__).parent / "static"
CONSOLE_ASSETS = "/console/"
DOCS_ASSETS = "/docs/assets/"
# Swagger UI's own files, shipped by the swagger-ui-py package (no CDN, no build step).
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")
OPEN_PREFIXES = (CONSOLE_ASSETS, DOCS_ASSETS, ALERT_PAGE)
OPEN_PATHS = frozenset({"/", "/docs"})

CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
CONSOLE_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
                  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# Swagger UI sets inline styles and shows inline SVG / data: images.
DOCS_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
               "frame-ancestors 'none'; base-uri 'none'")


def is_open(path: str) -> bool:
    """The console's page and static files: no data, so no key needed."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _read_dir(directory: Path, names: tuple[str, ...] | None = None) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())
            if p.is_file() and p.suffix in CONTENT_TYPES and (names is None or p.name in names)}


def _swagger_dir() -> Path | None:
    try:
        import swagger_ui
    except ImportError:
        return None
    return Path(swagger_ui.__file__).parent / "static"


ASSETS = _read_dir(STATIC_DIR)
_swagger = _swagger_dir()
DOCS_FILES = _read_dir(_swagger, SWAGGER_FILES) if _swagger else {}


def _file(files: dict[str, bytes], name: str, policy: str | None = None) -> HTTPResponse:
    body = files.get(name)
    if body is None:
        raise Problem(404, f"no such file: {name}")
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if policy:
        headers["Content-Security-Policy"] = policy
    return raw(body, content_type=CONTENT_TYPES[Path(name).suffix], headers=headers)


PAGE = Media(HTML, {"type": "string"})
ASSET = Media("text/javascript", {"type": "string", "description": "JavaScript, CSS or SVG by the name's suffix"})


@bp.get("/")
@documented("The console (HTML)", ok={200: PAGE}, public=True)
async def console(request: Request) -> HTTPResponse:
    return _file(ASSETS, "index.html", CONSOLE_POLICY)


@bp.get(f"{CONSOLE_ASSETS}<name:str>")
@documented("A file of the console", ok={200: ASSET}, problems=(404,), public=True)
async def asset(request: Request, name: str) -> HTTPResponse:
    return _file(ASSETS, name)


@bp.get(f"{ALERT_PAGE}<alert_id:str>")
@documented("The console's view of an alert (a redirect)", ok={302: None}, public=True)
async def alert_page(request: Request, alert_id: str) -> HTTPResponse:
    """`alert.url`: the console's view of the alert (its JSON is `/v1/alerts/{id}`)."""
    return redirect(f"/#/alerts/{quote(alert_id, safe='')}")


@bp.get("/docs")
@documented("Swagger UI over /openapi.json", ok={200: PAGE}, problems=(503,), public=True)
async def docs(request: Request) -> HTTPResponse:
    """Swagger UI over `/openapi.json`, every file served from here."""
    if not DOCS_FILES:
        raise Problem(503, "the API docs need the swagger-ui-py package; /openapi.json has the document")
    return _file(ASSETS, "docs.html", DOCS_POLICY)


@bp.get(f"{DOCS_ASSETS}<name:str>")
@documented("A file of Swagger UI", ok={200: ASSET}, problems=(404,), public=True)
async def docs_asset(request: Request, name: str) -> HTTPResponse:
    return _file(DOCS_FILES, name)
