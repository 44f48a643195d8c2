"""`tocsin worker`: Dramatiq delivery workers on the broker, claiming from the ledger."""

from __future__ import annotations

import argparse

from delivery.worker import run_worker
from service.delivery_bridge import broker_url, delivery_settings, describe_broker
from service.ledger_store import MongoLedger
from service.logs import complain, say
from service.serve import configured

LAG_PER_LEASE = 3


def worker_command(args: argparse.Namespace) -> int:
    config = configured(args, "worker")
    if config is None:
        return 2
    url = broker_url(config)
    if not url or not config.mongodb_uri:
        complain("tocsin worker: set TOCSIN_BROKER_URL (or TOCSIN_REDIS_URL) and TOCSIN_MONGODB_URI "
                 "(the embedded `tocsin serve` runs its own workers)")
        return 2
    # Sending runs at most a third of a lease ahead of recording (service/ledger_store.py).
    ledger = MongoLedger.factory(config.mongodb_uri, config.mongodb_database,
                                 max_lag_seconds=config.delivery_lease_seconds / LAG_PER_LEASE)
    say([f"tocsin worker: {describe_broker(config)}, {args.processes} process(es) x {args.threads} thread(s)"])
    return run_worker(url, ledger, processes=args.processes, threads=args.threads,
                      settings=delivery_settings(config))
