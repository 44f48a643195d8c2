"""The embedded SecantusDB: what a 202 promises survives a crash of the process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from pymongo import MongoClient

from service.embedded import EmbeddedDatabase, with_retry_writes_off

ROOT = Path(__file__).resolve().parents[2]

CRASHING_WRITER = textwrap.dedent("""
    import os, signal, sys
    from pymongo import MongoClient
    from service.embedded import EmbeddedDatabase
    uri = EmbeddedDatabase(sys.argv[1]).start()
    MongoClient(uri).tocsin.events.insert_many([{"_id": f"ev-{i}", "seq": i} for i in range(1, 51)])
    os.kill(os.getpid(), signal.SIGKILL)  # no shutdown, no checkpoint
""")


def test_acknowledged_writes_survive_a_killed_process(tmp_path):
    data = str(tmp_path / "data")
    env = {"SECANTUS_TEST_FAST_STORAGE": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # must not weaken durability
    proc = subprocess.run([sys.executable, "-c", CRASHING_WRITER, data], env=env, cwd=ROOT, timeout=60)
    assert proc.returncode == -9
    db = EmbeddedDatabase(data)
    try:
        client = MongoClient(db.start())
        assert client.tocsin.events.count_documents({}) == 50
        assert client.admin.command("hello").get("setName") is None  # standalone: no oplog writes
        client.close()
    finally:
        db.stop()


def test_retry_writes_are_turned_off_once():
    assert with_retry_writes_off("mongodb://h:1/") == "mongodb://h:1/?retryWrites=false"
    assert with_retry_writes_off("mongodb://h:1/?a=b") == "mongodb://h:1/?a=b&retryWrites=false"
    assert with_retry_writes_off("mongodb://h:1") == "mongodb://h:1/?retryWrites=false"
    assert with_retry_writes_off("mongodb://h:1/?retryWrites=true") == "mongodb://h:1/?retryWrites=true"


def test_the_database_process_goes_with_a_killed_service(tmp_path):
    """The embedded database runs in a child process; a `tocsin serve` killed with -9
    must not leave it holding the data directory."""
    import os
    import time

    data = str(tmp_path / "data")
    proc = subprocess.run([sys.executable, "-c", CRASHING_WRITER, data], cwd=ROOT, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert proc.returncode == -9
    pid = int(Path(data + ".pid").read_text())
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}"), "the database process outlived its service"
