"""`tocsin worker`: Dramatiq delivery workers on `TOCSIN_REDIS_URL`, logging to MongoDB."""

from __future__ import annotations

import logging
import sys
from typing import Any

from service.serve import load_config


def worker_command(args: Any) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(args)
    if not config.redis_url or not config.mongodb_uri:
        print("tocsin worker: set TOCSIN_REDIS_URL and TOCSIN_MONGODB_URI (the embedded "
              "`tocsin serve` runs its own workers)", file=sys.stderr)
        return 2
    from delivery.worker import run_worker
    from service.delivery_log import MongoDeliveryLog

    uri = config.mongodb_uri
    log = MongoDeliveryLog.factory(uri, config.mongodb_database)
    print(f"tocsin worker: {args.processes} process(es) x {args.threads} thread(s)", flush=True)
    return run_worker(config.redis_url, log, processes=args.processes, threads=args.threads)
