"""Two repairs to SecantusDB 0.7.0b3, applied only in the embedded database's own process.

1. The index catalogue, read once per write chunk instead of per document (below).
2. The profiler's settings, kept in memory: SecantusDB reads a database's profiling
   level from its WiredTiger table under the storage's global lock before answering
   *every* command (`_maybe_record_profile` -> `Storage.get_profile`), 14 % of the
   database process's samples when separate workers claim entries one command at a
   time. Only `Storage.set_profile` writes that table, so the settings are kept per
   database after the first read and forgotten when `set_profile` changes them.

SecantusDB decodes a collection's whole index catalogue (a WiredTiger cursor walk and a
BSON decode per index) to answer `Storage._index_options_map`, and its write paths ask
for that map up to three times *per document* (`_unique_conflict`,
`_validate_geo_indexes`, `_write_index_entries`), although its own docstring says the
result is "cached per call (the caller handles per-doc loops)". In an alert storm that
was a fifth of the database process's CPU (py-spy on `service.embedded_server`,
docs/performance.md). The repair does what the docstring says: while one write chunk
runs, the map of each collection is read once.

Why it is safe: the map holds index *options* (collation, geo settings,
`prepareUnique`), which only DDL changes. The chunk methods read the list of indexes
once at their start anyway (`_all_indexes`), so one chunk never saw a catalogue change
halfway through; the map now has the same lifetime as that list. The multikey flag,
which a write may set mid-chunk, is read by SecantusDB through `_iter_indexes`, which
is not cached. Each call returns a new outer dict, as before.

The repair applies to the pinned version only (`SecantusDB==0.7.0b3`); on any other
version the database runs as shipped and a line in its log says so. It should be
reported upstream and removed when a release caches the map itself.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("tocsin.embedded")

REPAIRED_VERSION = "0.7.0b3"
# The write paths that hold a collection's index list for the length of one call.
CHUNK_METHODS = ("_insert_chunk", "_update_matching_single_txn", "_delete_chunk")

_local = threading.local()


def _cached_options_map(original: Callable[..., dict]) -> Callable[..., dict]:
    @functools.wraps(original)
    def options_map(self: Any, db: str, coll: str) -> dict[str, dict[str, Any]]:
        cache = getattr(_local, "cache", None)
        if cache is None:
            return original(self, db, coll)
        key = (id(self), db, coll)
        found = cache.get(key)
        if found is None:
            found = cache[key] = original(self, db, coll)
        return dict(found)

    options_map.tocsin_repaired = True  # type: ignore[attr-defined]
    return options_map


def _with_cache(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def chunk(self: Any, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_local, "cache", None)
        if outer is not None:
            return method(self, *args, **kwargs)  # nested: the outer call's cache serves
        _local.cache = {}
        try:
            return method(self, *args, **kwargs)
        finally:
            _local.cache = None

    return chunk


def _remembered_profile(original: Callable[..., dict]) -> Callable[..., dict]:
    @functools.wraps(original)
    def get_profile(self: Any, db: str) -> dict[str, Any]:
        known = self.__dict__.setdefault("_tocsin_profiles", {})
        found = known.get(db)
        if found is None:
            found = known[db] = original(self, db)
        return dict(found)

    return get_profile


def _forgetting_profile(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def set_profile(self: Any, db: str, **settings: Any) -> None:
        known = self.__dict__.setdefault("_tocsin_profiles", {})
        known.pop(db, None)
        try:
            original(self, db, **settings)
        finally:
            known.pop(db, None)  # a read that raced the write is not kept

    return set_profile


def repair(storage_class: Any = None, *, version: str | None = None) -> bool:
    """Apply the repair to SecantusDB's `Storage` (idempotent); True when applied."""
    if storage_class is None or version is None:
        from importlib.metadata import version as installed

        import secantus.storage

        storage_class = storage_class or secantus.storage.Storage
        version = version or installed("SecantusDB")
    if version != REPAIRED_VERSION:
        log.info("SecantusDB %s: running as shipped (the index-options repair is for %s)",
                 version, REPAIRED_VERSION)
        return False
    current = storage_class._index_options_map
    if getattr(current, "tocsin_repaired", False):
        return True
    missing = [name for name in (*CHUNK_METHODS, "get_profile", "set_profile") if not hasattr(storage_class, name)]
    if missing:  # not the code this was written against: leave it alone
        log.warning("SecantusDB %s lacks %s: running as shipped", version, ", ".join(missing))
        return False
    storage_class._index_options_map = _cached_options_map(current)
    for name in CHUNK_METHODS:
        setattr(storage_class, name, _with_cache(getattr(storage_class, name)))
    storage_class.get_profile = _remembered_profile(storage_class.get_profile)
    storage_class.set_profile = _forgetting_profile(storage_class.set_profile)
    return True
