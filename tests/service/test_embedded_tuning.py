"""The repairs to SecantusDB (service/embedded_tuning.py): its write paths and the
profiler settings it reads before every command.

On a subclass of SecantusDB's `Storage`, so the rest of the suite keeps the database as
shipped: the catalogue is read once per write chunk instead of per document, and what a
write does (duplicates refused and reported, a unique index made between two writes
honoured, a partial index obeyed, updates and deletes keeping the indexes right) is
unchanged.
"""

from __future__ import annotations

import pytest
import secantus.storage as secantus_storage

from service.embedded_tuning import REPAIRED_VERSION, repair

DB, COLL = "tocsin", "events"


class Counting(secantus_storage.Storage):
    """Counts the catalogue reads behind `_index_options_map`."""

    reads = 0

    def _index_options_map(self, db, coll):
        type(self).reads += 1
        return super()._index_options_map(db, coll)


@pytest.fixture
def storages(tmp_path):
    class Repaired(Counting):
        pass

    class Shipped(Counting):
        pass

    assert repair(Repaired, version=REPAIRED_VERSION)
    made = {"repaired": Repaired(str(tmp_path / "r")), "shipped": Shipped(str(tmp_path / "s"))}
    for storage in made.values():
        storage.create_index(DB, COLL, "seq_unique", {"seq": 1}, {"unique": True})
        storage.create_index(DB, COLL, "time", {"time": 1})
        storage.create_index(DB, COLL, "open", {"due": 1}, {"partialFilterExpression": {"open": True}})
    yield made
    for storage in made.values():
        storage.close()


def docs(start: int, n: int) -> list[dict]:
    return [{"_id": f"e{i}", "seq": i, "time": i * 10, "due": i, "open": i % 2 == 0} for i in range(start, start + n)]


def test_the_catalogue_is_read_once_per_chunk_not_per_document(storages):
    for storage in storages.values():
        type(storage).reads = 0
        storage.insert(DB, COLL, docs(0, 100))
    assert type(storages["shipped"]).reads >= 200  # two or three reads per document
    assert type(storages["repaired"]).reads <= 2


def test_writes_do_the_same_with_and_without_the_repair(storages):
    results = {}
    for name, storage in storages.items():
        storage.insert(DB, COLL, docs(0, 10))
        _, dup_errors = storage.insert(DB, COLL, [{"_id": "x", "seq": 3}, {"_id": "e4", "seq": 99}], ordered=False)
        storage.create_index(DB, COLL, "due_unique", {"due": 1}, {"unique": True, "sparse": True})
        _, late_errors = storage.insert(DB, COLL, [{"_id": "y", "seq": 100, "due": 5}], ordered=False)
        storage.update_matching(DB, COLL, {"_id": "e2"}, {"$set": {"open": False, "time": 1}}, upsert=False)
        storage.delete_matching(DB, COLL, {"_id": "e6"})
        results[name] = {
            "dup": sorted((e["index"], e["code"]) for e in dup_errors),
            "late": [(e["index"], e["code"]) for e in late_errors],
            "open": sorted(d["_id"] for d in storage.find_matching(DB, COLL, {"open": True, "due": {"$gte": 0}})),
            "time": sorted(d["_id"] for d in storage.find_matching(DB, COLL, {"time": {"$lt": 15}})),
            "all": sorted(d["_id"] for d in storage.find_matching(DB, COLL, {})),
        }
    assert results["repaired"] == results["shipped"]
    repaired = results["repaired"]
    assert repaired["dup"] == [(0, 11000), (1, 11000)]  # seq 3 taken, `_id` e4 taken
    assert repaired["late"] == [(0, 11000)]  # the index made after the first writes is enforced
    assert "e2" not in repaired["open"] and "e6" not in repaired["all"]
    assert repaired["time"] == ["e0", "e1", "e2"]


def test_other_versions_run_as_shipped():
    class Untouched(secantus_storage.Storage):
        pass

    before = Untouched._index_options_map
    assert not repair(Untouched, version="0.8.0")
    assert Untouched._index_options_map is before


def test_the_repair_is_applied_once():
    class Twice(secantus_storage.Storage):
        pass

    assert repair(Twice, version=REPAIRED_VERSION)
    wrapped = Twice._insert_chunk
    assert repair(Twice, version=REPAIRED_VERSION)
    assert Twice._insert_chunk is wrapped



def test_profile_settings_are_read_once_and_a_change_is_seen_at_once(tmp_path):
    class TableReads(secantus_storage.Storage):
        reads = 0

        def get_profile(self, db):
            TableReads.reads += 1
            return super().get_profile(db)

    class Repaired(TableReads):
        pass

    assert repair(Repaired, version=REPAIRED_VERSION)
    storage = Repaired(str(tmp_path / "p"))
    try:
        assert [storage.get_profile("tocsin")["level"] for _ in range(3)] == [0, 0, 0]
        assert TableReads.reads == 1
        storage.set_profile("tocsin", level=2, slowms=5)
        assert storage.get_profile("tocsin") == {"level": 2, "slowms": 5, "sampleRate": 1.0}
        assert storage.get_profile("other")["level"] == 0
        storage.set_profile("tocsin", level=0)
        assert storage.get_profile("tocsin")["level"] == 0
        assert TableReads.reads == 4  # after each change, and for another database
    finally:
        storage.close()
