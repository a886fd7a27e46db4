"""Serving an aiohttp application on a socket bound before the app is built."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

from aiohttp import web


def listen(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 picks a free one), so its URL is known before serving."""
    sock = socket.create_server((host, port), reuse_port=False)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    """http://host:port of a listening socket."""
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serving(app: web.Application, sock: socket.socket) -> AsyncIterator[None]:
    """Serve `app` on `sock` until the block ends."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield
    finally:
        await runner.cleanup()
