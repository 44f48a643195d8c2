"""The reconciler's look at due ledger entries against a long sent history (a benchmark).

    .venv/bin/python bench/bench_ledger_queries.py [--sent 20000] [--open 10] [--looks 5]

The reconciler of every `tocsin serve` reads the entries whose `due_at` has passed once a
second (`service.ledger_store.due_entries`). Its cost should follow the open entries,
not the history of sent ones. This starts the embedded database (SecantusDB, as `tocsin
serve` starts it: `service.embedded`), writes `--sent` final entries and `--open` due
ones twice, and prints the milliseconds per look, median of `--looks`:

- as the service writes them now: a final entry has no `due_at` (its outcome unsets
  it), and the `due_at` index is sparse (`Database.ensure_indexes`);
- as an earlier version wrote them: `due_at: null` on final entries, a plain index.
  SecantusDB walks the index from its nulls up to now, so the look costs the history.

Figures are SecantusDB's, not MongoDB's (mongod's index bounds skip the nulls).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from delivery.ledger import SENT, new_entry  # noqa: E402
from service.db import Database  # noqa: E402
from service.embedded import EmbeddedDatabase  # noqa: E402
from service.ledger_store import due_entries  # noqa: E402
from tests.delivery.support import WebhookChannel, one_request  # noqa: E402


def entries(sent: int, opened: int, now: datetime, *, final_due: object) -> list[dict]:
    request = one_request(WebhookChannel("ops", url="http://127.0.0.1:9/hook"))
    base = new_entry(request, now - timedelta(minutes=5), wake_grace=10.0)
    docs = []
    for i in range(sent):
        doc = dict(base, _id=f"dlv_sent_{i:08d}", state=SENT)
        doc.pop("due_at")
        if final_due is not None:
            doc["due_at"] = None
        docs.append(doc)
    docs += [dict(base, _id=f"dlv_open_{i:08d}") for i in range(opened)]
    return docs


async def one_layout(db: Database, docs: list[dict], looks: int, now: datetime) -> tuple[float, int]:
    for i in range(0, len(docs), 500):
        await db.deliveries.insert_many(docs[i:i + 500])
    times, found = [], 0
    for _ in range(looks):
        started = time.perf_counter()
        found = len(await due_entries(db, now, 1000))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), found


async def run(uri: str, args: argparse.Namespace) -> None:
    now = datetime.now(timezone.utc)
    current = Database.connect(uri, "bench_due_now")
    await current.ensure_indexes(timedelta(days=1))
    ms, found = await one_layout(current, entries(args.sent, args.open, now, final_due=None), args.looks, now)
    print(f"final entries without due_at, sparse index: {ms:8.1f} ms a look ({found} due of "
          f"{args.sent:,} sent + {args.open} open)")
    earlier = Database.connect(uri, "bench_due_before")
    await earlier.deliveries.create_index("due_at", name="due_at")
    ms, found = await one_layout(earlier, entries(args.sent, args.open, now, final_due="null"), args.looks, now)
    print(f"final entries with due_at: null, plain index (before): {ms:8.1f} ms a look ({found} due)")
    for db in (current, earlier):
        await db.client.drop_database(db.db.name)
        await db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sent", type=int, default=20_000)
    parser.add_argument("--open", type=int, default=10)
    parser.add_argument("--looks", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tocsin-due-") as work:
        database = EmbeddedDatabase(str(Path(work) / "db"))
        uri = database.start()
        try:
            print("SecantusDB (embedded settings); figures are not MongoDB's")
            asyncio.run(run(uri, args))
        finally:
            database.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
