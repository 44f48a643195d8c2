"""The embedded SecantusDB: what a 202 promises survives a crash of the process, and
nobody but the service can open it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

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


# -- reachable by the service only (issue 12) ------------------------------------------

def _port(uri: str) -> int:
    return int(uri.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def test_a_connection_without_the_credentials_is_refused(tmp_path):
    """Any local user can reach the loopback port; only the service's password opens it."""
    db = EmbeddedDatabase(str(tmp_path / "data"))
    uri = db.start()
    try:
        MongoClient(uri).tocsin.events.insert_one({"_id": "ev-1"})
        port = _port(uri)
        anonymous = MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=5000)
        assert anonymous.admin.command("ping")["ok"] == 1  # the handshake is all it gets
        for attempt in (lambda: anonymous.tocsin.events.find_one(),
                        lambda: anonymous.tocsin.events.insert_one({"_id": "ev-2"}),
                        lambda: anonymous.list_database_names(),
                        lambda: anonymous.admin.command("createUser", "me", pwd="x", roles=["root"])):
            with pytest.raises(OperationFailure) as refused:
                attempt()
            assert refused.value.code == 13  # Unauthorized
        guessed = MongoClient(f"mongodb://tocsin:guess@127.0.0.1:{port}/?authSource=admin",
                              serverSelectionTimeoutMS=5000)
        with pytest.raises(OperationFailure):
            guessed.tocsin.events.find_one()
        assert MongoClient(uri).tocsin.events.count_documents({}) == 1
    finally:
        db.stop()


def test_each_start_has_a_new_password_kept_out_of_argv_and_environment(tmp_path):
    data = str(tmp_path / "data")
    db = EmbeddedDatabase(data)
    first = db.start()
    try:
        password = first.split("://tocsin:", 1)[1].split("@", 1)[0]
        assert len(password) >= 40
        pid = int(Path(data + ".pid").read_text())
        for exposed in ("cmdline", "environ"):
            assert password.encode() not in Path(f"/proc/{pid}/{exposed}").read_bytes()
    finally:
        db.stop()
    second = db.start()
    try:
        assert second != first
        stale = first.replace(f":{_port(first)}/", f":{_port(second)}/")
        with pytest.raises(OperationFailure):
            MongoClient(stale, serverSelectionTimeoutMS=5000).tocsin.events.find_one()
        MongoClient(second).tocsin.events.find_one()
    finally:
        db.stop()


def test_the_data_directory_is_owner_only(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    db = EmbeddedDatabase(str(data))
    db.start()
    try:
        assert data.stat().st_mode & 0o777 == 0o700
    finally:
        db.stop()
