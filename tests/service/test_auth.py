"""API keys and scopes; loopback-only without keys."""

from __future__ import annotations

import pytest

from service.app import create_app
from service.config import ApiKey, Config, parse_api_keys
from tests.service.conftest import make_config
from tests.service.server import running


@pytest.fixture
async def keyed(mongo_uri, tmp_path):
    app = create_app(make_config(mongo_uri, tmp_path, api_keys="adm-secret:admin,ing-secret:ingest"))
    async with running(app) as client:
        yield client


def bearer(key: str) -> dict:
    return {"authorization": f"Bearer {key}"}


async def test_healthz_is_open(keyed):
    assert (await keyed.get("/healthz")).status_code == 200


async def test_missing_or_wrong_key_is_401(keyed):
    assert (await keyed.get("/v1/rules")).status_code == 401
    r = await keyed.get("/v1/rules", headers=bearer("nope"))
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert "nope" not in r.text


async def test_ingest_key_may_only_post_events(keyed):
    r = await keyed.post("/v1/events", json={"id": "a", "type": "a.b"}, headers=bearer("ing-secret"))
    assert r.status_code == 202
    assert (await keyed.get("/v1/alerts", headers=bearer("ing-secret"))).status_code == 403
    assert (await keyed.get("/metrics", headers=bearer("ing-secret"))).status_code == 403


async def test_admin_key_may_do_everything(keyed):
    assert (await keyed.get("/v1/alerts", headers=bearer("adm-secret"))).status_code == 200
    r = await keyed.post("/v1/events", json={"id": "a", "type": "a.b"}, headers=bearer("adm-secret"))
    assert r.status_code == 202


def test_without_keys_only_loopback_binds():
    assert Config(_env_file=None, host="0.0.0.0").bind_error()
    assert Config(_env_file=None, host="127.0.0.1").bind_error() is None
    assert Config(_env_file=None, host="::1").bind_error() is None
    assert Config(_env_file=None, host="0.0.0.0", api_keys="k:admin").bind_error() is None


def test_keys_parse_and_never_show_in_repr():
    keys = parse_api_keys("a:admin, b:ingest")
    assert keys == (ApiKey("a", "admin"), ApiKey("b", "ingest"))
    assert "a" not in repr(keys[0]).replace("admin", "")
    assert "k:admin" not in repr(Config(_env_file=None, api_keys="k:admin"))
    with pytest.raises(ValueError):
        parse_api_keys("a:root")
