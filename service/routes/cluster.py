"""`GET /v1/cluster`: the live evaluating replicas and the partitions each holds.

Read from the database (`members` and the partitions' leases, service/membership.py),
so every replica answers the same, an API-only replica (`TOCSIN_EVALUATOR=false`) too.
"""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from service.api_doc import documented
from service.api_models import Cluster
from service.membership import read_view

bp = Blueprint("cluster", url_prefix="/v1")


@bp.get("/cluster")
@documented("Evaluating replicas and the partitions each holds", ok={200: Cluster})
async def cluster(request: Request) -> HTTPResponse:
    db, config = request.app.ctx.process.db, request.app.ctx.config
    view = await read_view(db.db["members"], db.checkpoints, config.lease_seconds, config.evaluator_partitions)
    return json_response(view.to_dict())
