"""`GET /v1/monitors`: the active rule set's monitors with their open alerts and status.

`status`, first that applies: `error` for a monitor the evaluator quarantined (its
evaluation raised, or its output could not be stored; `error` says what, when and on
which event), `disabled` for one with `disabled`, `firing` when one of its alerts fires,
`pending` when one waits out its `for`, else `ok`. `open_alerts` counts both. Quarantines
and alerts are read from the database (service/monitor_errors.py), so every replica
answers the same.
"""

from __future__ import annotations

from typing import Any

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from dsl import ast as A
from dsl.formatter import format_trigger
from dsl.ruleset import MonitorDef
from engine.engine import signature
from service import monitor_errors
from service.api_doc import documented
from service.api_models import MonitorPage
from service.routes.paging import PAGE, page_of_list

bp = Blueprint("monitors", url_prefix="/v1")


def _targets(monitor: A.Monitor) -> list[str]:
    out = []
    for clause in monitor.clauses:
        if isinstance(clause, A.NotifyClause | A.EscalateClause):
            out.extend(f"{t.kind}:{t.name.value}" for t in clause.targets)
    return list(dict.fromkeys(out))


def summary(m: MonitorDef, open_alerts: dict[str, int], error: dict[str, Any] | None = None) -> dict[str, Any]:
    """One monitor's row; `open_alerts` counts its alerts by status (`firing`, `pending`)."""
    severity = m.monitor.clause(A.SeverityClause)
    disabled = m.monitor.clause(A.DisabledClause) is not None
    status = ("error" if error else "disabled" if disabled else "firing" if open_alerts.get("firing")
              else "pending" if open_alerts.get("pending") else "ok")
    return {
        "name": m.name,
        "file": m.file,
        "line": m.line,
        "trigger": format_trigger(m.monitor.trigger),
        "severity": severity.level if severity else "error",
        "targets": _targets(m.monitor),
        "disabled": disabled,
        "open_alerts": sum(open_alerts.values()),
        "status": status,
        "error": error,
    }


@bp.get("/monitors")
@documented("Monitors", ok={200: MonitorPage}, query=PAGE, problems=(422,))
async def list_monitors(request: Request) -> HTTPResponse:
    store = request.app.ctx.rules
    await store.refresh()
    counts: dict[str, dict[str, int]] = {}
    pipeline = [{"$match": {"status": {"$in": ["firing", "pending"]}}},
                {"$group": {"_id": {"monitor": "$monitor", "status": "$status"}, "n": {"$sum": 1}}}]
    async for row in await request.app.ctx.db.alerts.aggregate(pipeline):
        counts.setdefault(row["_id"]["monitor"], {})[row["_id"]["status"]] = row["n"]
    errors = await monitor_errors.current(request.app.ctx.db)
    rows = [summary(m, counts.get(m.name, {}), monitor_errors.shown(errors.get(m.name), signature(m)))
            for m in store.active.ruleset.monitors]
    return json_response(page_of_list(request, rows))
