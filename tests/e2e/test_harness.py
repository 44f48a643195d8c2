"""The fault-injection harness does what later e2e tests rely on."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import redis
from pymongo import MongoClient

from tests.support.processes import (
    RecordingReceiver,
    RedisProcess,
    SecantusProcess,
    ServiceProcess,
    WorkerProcess,
    new_marker,
    unique_queue,
    wait_for,
)


def test_secantus_keeps_acknowledged_writes_across_kill9(tmp_path):
    with SecantusProcess(tmp_path / "db", log_dir=tmp_path) as db:
        client: MongoClient = MongoClient(db.uri, serverSelectionTimeoutMS=5000)
        try:
            client.t.events.insert_many([{"_id": i} for i in range(50)])
            client.t.events.insert_one({"_id": "last"})  # acknowledged, then the crash
            db.kill9()
            assert not db.alive
            db.restart()
            assert client.t.events.count_documents({}) == 51  # the same client reconnects
            assert client.admin.command("hello").get("setName") is None  # --standalone
        finally:
            client.close()
    assert not db.alive


def test_redis_restart_empty_loses_every_key(redis_process):
    client = redis.Redis.from_url(redis_process.url, socket_timeout=2)
    client.set("k", "v")
    assert client.get("k") == b"v"
    port = redis_process.port
    redis_process.restart_empty()
    assert redis_process.port == port
    assert client.get("k") is None
    client.close()


def test_frozen_redis_times_out_until_thawed():
    with RedisProcess() as server:
        client = redis.Redis.from_url(server.url, socket_timeout=0.3, socket_connect_timeout=0.3)
        assert client.ping()
        server.freeze()
        with pytest.raises(redis.exceptions.TimeoutError):
            client.ping()
        server.thaw()
        wait_for(lambda: _pings(client), timeout=5, message="redis did not answer after thaw")
        client.close()
    assert not server.alive  # stopped while possibly frozen: SIGCONT + SIGKILL


def test_frozen_process_is_killed_on_exit():
    server = RedisProcess()
    with server:
        server.freeze()
    assert server.proc is None or server.proc.returncode is not None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.RedisError:
        return False


def test_receiver_records_requests_keys_and_markers(recording_receiver):
    receiver = recording_receiver
    with httpx.Client(timeout=5) as http:
        first, second = new_marker(), new_marker()
        for key, marker in (("k1", first), ("k2", second), ("k1", first)):
            r = http.post(receiver.url, headers={"Idempotency-Key": key, "webhook-id": key},
                          json={"id": "a", "message": f"disk full on {marker}",
                                "event": {"instance": {"name": marker}}})
            assert r.status_code == 200
        assert receiver.count == 3
        assert receiver.keys() == ["k1", "k2", "k1"]
        assert receiver.distinct_keys() == {"k1", "k2"}
        assert Counter(receiver.markers()) == {first: 2, second: 1}  # once per request
        got = receiver.requests[0]
        assert got.path == "/hook" and got.webhook_id == "k1" and got.body["id"] == "a"
        assert got.status == 200 and got.at <= receiver.requests[1].at


def test_receiver_modes():
    with RecordingReceiver() as receiver, httpx.Client() as http:
        receiver.fail_until(time.monotonic() + 0.5, status=503)
        marker = new_marker()
        assert http.post(receiver.url, json={"m": marker}).status_code == 503
        assert receiver.markers() == [] and receiver.markers(delivered_only=False) == [marker]
        wait_for(lambda: http.post(receiver.url, json={"m": marker}).status_code == 200, timeout=5,
                 message="fail_until did not end")
        assert receiver.markers() == [marker]

        receiver.slow(0.3)
        started = time.monotonic()
        assert http.post(receiver.url, json={}, timeout=5).status_code == 200
        assert time.monotonic() - started >= 0.3

        receiver.hang()
        with pytest.raises(httpx.ReadTimeout):
            http.post(receiver.url, json={}, timeout=0.3)
        assert receiver.requests[-1].status is None  # recorded, never answered

        receiver.ok()
        assert http.post(receiver.url, json={}, timeout=5).status_code == 200


def test_receiver_close_does_not_wait_for_a_hung_request():
    receiver = RecordingReceiver().start()
    receiver.hang()
    worker = threading.Thread(target=lambda: _post_quietly(receiver.url), daemon=True)
    worker.start()
    assert receiver.wait_until(lambda: receiver.count == 1, timeout=5)
    started = time.monotonic()
    receiver.close()
    assert time.monotonic() - started < 2
    worker.join(5)
    assert not worker.is_alive()  # the hung request was released (connection dropped)


def _post_quietly(url: str) -> None:
    try:
        httpx.post(url, json={}, timeout=30)
    except httpx.HTTPError:
        pass


def test_wait_for_raises_with_the_message():
    with pytest.raises(AssertionError, match="never true"):
        wait_for(lambda: False, timeout=0.1, message=lambda: "never true")


def test_unique_queue_names():
    names = {unique_queue() for _ in range(100)}
    assert len(names) == 100 and all(n.startswith("tocsin_t_") for n in names)


def _live_members(pgid: int) -> list[int]:
    """Pids of the non-zombie processes in group `pgid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(stat.parent.name))
    return found


def test_service_restarts_on_its_port_and_a_worker_dies_as_a_group(tmp_path):
    with SecantusProcess(tmp_path / "db", log_dir=tmp_path) as db, RedisProcess() as broker:
        env = {"TOCSIN_MONGODB_URI": db.uri, "TOCSIN_REDIS_URL": broker.url}
        with ServiceProcess(tmp_path, env, log_dir=tmp_path) as service:
            event = {"id": "h1", "type": "execution.started", "instance": {"id": "i1"}, "execution": {"id": "x1"}}
            assert httpx.post(f"{service.url}/v1/events", json=event, timeout=10).status_code == 202
            url = service.url
            service.kill9()
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{url}/healthz", timeout=1)
            service.restart()
            assert service.url == url and httpx.get(f"{url}/healthz", timeout=5).status_code == 200
            assert "tocsin listening" in service.run_log()

        with WorkerProcess(env, processes=2, threads=1, log_dir=tmp_path) as worker:
            pgid = worker.pid
            wait_for(lambda: len(_live_members(pgid)) == 3, timeout=10,
                     message=lambda: f"expected a leader and two children; log:\n{worker.log()}")
            worker.kill9()
            wait_for(lambda: not _live_members(pgid), timeout=5, message="worker children outlived kill9")
