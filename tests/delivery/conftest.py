"""Fixtures for the delivery tests: real local HTTP and SMTP receivers."""

from __future__ import annotations

import pytest

from tests.delivery.support import start_receiver
from tests.support.servers import free_port


@pytest.fixture
def receiver():
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def smtp_server():
    """An aiosmtpd server on 127.0.0.1 collecting messages as `.messages`."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Collect(Message):
        def __init__(self) -> None:
            super().__init__()
            self.messages = []

        def handle_message(self, message) -> None:
            self.messages.append(message)

    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.messages = handler.messages
    yield controller
    controller.stop()
