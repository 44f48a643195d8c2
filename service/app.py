"""`create_app(config)`: the Sanic application with every route of api.md.

    app = create_app(Config())          # the service process starts with the server

The app factory is the composition root's entry (service/composition.py): it makes the
metrics and the `ServiceProcess` and hands the routes their collaborators in the typed
`app.ctx` (`ServiceContext`).
"""

from __future__ import annotations

import itertools
import os

from sanic import Sanic
from sanic.config import Config as SanicConfig
from sanic.request import Request

from service import auth, json_out, problems
from service.clock import Clock
from service.composition import ServiceContext
from service.config import Config
from service.console import routes as console
from service.events_model import MAX_REQUEST_BYTES
from service.metrics import Metrics
from service.process import ServiceProcess
from service.routes import alerts, backtest, cluster, events, monitors, ops, rules, silences, testing

_serial = itertools.count(1)
TocsinApp = Sanic[SanicConfig, ServiceContext]


def create_app(config: Config | None = None, *, name: str | None = None, clock: Clock | None = None) -> TocsinApp:
    """Build the app; database, rules, evaluator and delivery start with the server.
    `clock` is the evaluators' (the wall clock by default; tests pass a ManualClock)."""
    config = config or Config()
    metrics = Metrics()
    process = ServiceProcess(config, metrics, clock)
    # dumps: every JSON answer is strict JSON (inf/nan as null), whichever route makes it.
    app: TocsinApp = Sanic(name or f"tocsin_{os.getpid()}_{next(_serial)}", dumps=json_out.dumps,
                                            ctx=ServiceContext(config, metrics, process))
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES  # 413 from Content-Length or while streaming
    app.config.AUTO_EXTEND = False  # sanic-ext, if installed, stays out: service/openapi.py makes the document
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.ACCESS_LOG = False
    app.config.MOTD = False  # `tocsin serve` prints its own summary
    keys = config.keys

    @app.on_request
    async def _auth(request: Request):
        return auth.check(request, keys)

    @app.before_server_start
    async def _start(app_: TocsinApp) -> None:
        await process.start()
        app_.ctx.db = process.db
        app_.ctx.rules = process.rules

    @app.after_server_stop
    async def _stop(app_: TocsinApp) -> None:
        await process.stop()

    problems.install(app)
    for module in (events, rules, monitors, alerts, silences, testing, backtest, ops, cluster, console):
        app.blueprint(module.bp)
    return app
