"""A shared RabbitMQ for tests: where it is, and queue names that never collide.

    url = require_rabbitmq_url()      # AssertionError with a hint when there is none
    env = {"TOCSIN_DELIVERY_QUEUE": unique_queue(), ...}

Tests needing RabbitMQ fail with a clear message rather than skip: a skipped
delivery test is a hole nobody sees. Parallel tests share one broker, so each uses
a queue of its own.
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _amqp_reachable(url: str) -> bool:
    """With pika installed, open and close a connection; otherwise a TCP connect."""
    try:
        import pika
    except ImportError:
        parts = urlsplit(url)
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=0.5):
                return True
        except OSError:
            return False
    try:
        params = pika.URLParameters(url)
        params.socket_timeout = params.blocked_connection_timeout = 2
        pika.BlockingConnection(params).close()
        return True
    except Exception:
        return False


def rabbitmq_url() -> str | None:
    """`TOCSIN_TEST_AMQP_URL` if set, else the local default if it answers, else None."""
    url = os.environ.get("TOCSIN_TEST_AMQP_URL")
    if url:
        return url
    return DEFAULT_AMQP_URL if _amqp_reachable(DEFAULT_AMQP_URL) else None


def require_rabbitmq_url() -> str:
    """`rabbitmq_url()`, or AssertionError saying how to provide one (tests fail, not skip)."""
    url = rabbitmq_url()
    if url is None:
        raise AssertionError("no RabbitMQ: nothing answers on 127.0.0.1:5672 and TOCSIN_TEST_AMQP_URL "
                             "is unset; start RabbitMQ there or set TOCSIN_TEST_AMQP_URL")
    return url


def unique_queue(prefix: str = "tocsin_t") -> str:
    """A fresh queue name (`tocsin_t_<hex>`), for `TOCSIN_DELIVERY_QUEUE` in one test."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"
