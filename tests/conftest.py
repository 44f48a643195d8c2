"""Fixtures shared by every test package: real servers, started once per worker."""

from __future__ import annotations

import pytest

from tests.support.servers import redis_server, secantus_server


@pytest.fixture(scope="session")
def mongo_uri():
    """URI of an in-memory SecantusDB (MongoDB wire protocol), retryWrites=false."""
    with secantus_server() as uri:
        yield uri


@pytest.fixture(scope="session")
def redis_url():
    """URL of a real Redis server for broker tests."""
    with redis_server() as url:
        yield url
