"""An app per test on the session's in-memory SecantusDB, each with its own database."""

from __future__ import annotations

import uuid

import pytest
from sanic import Sanic

from service.app import create_app
from service.config import Config
from tests.service.server import running

Sanic.test_mode = True


def make_config(mongo_uri: str, tmp_path, **overrides) -> Config:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    values = dict(mongodb_uri=mongo_uri, mongodb_database=f"t_{uuid.uuid4().hex[:12]}",
                  rules_dir=str(rules), watch_rules=False, evaluator=False, tick_seconds=0.1,
                  gap_grace_seconds=0.5)
    values.update(overrides)
    return Config(_env_file=None, **values)


@pytest.fixture
def config(mongo_uri, tmp_path) -> Config:
    return make_config(mongo_uri, tmp_path)


@pytest.fixture
def app(config):
    return create_app(config)


@pytest.fixture
async def client(app):
    """The app served on a loopback port (listeners run); an httpx client for it."""
    async with running(app) as c:
        yield c
