"""A real Sanic server inside the test's event loop, with an httpx client against it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from sanic import Sanic

from tests.support.servers import free_port


@contextlib.asynccontextmanager
async def running(app: Sanic) -> AsyncIterator[httpx.AsyncClient]:
    """Start `app` on a free loopback port (listeners included); yield a client."""
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
