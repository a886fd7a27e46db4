"""An aiohttp transport for python-telegram-bot, faster than the default httpx one under bursts."""

from __future__ import annotations

import asyncio

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot import metrics


class AiohttpRequest(BaseRequest):
    """`BaseRequest` on one aiohttp session with a bounded connection pool."""

    __slots__ = ("_connect", "_media_write", "_pool", "_pool_size", "_read", "_session", "_write")

    def __init__(
        self,
        connection_pool_size: int = 64,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """Default read timeout, used by PTB to compute long-poll timeouts."""
        return self._read

    async def initialize(self) -> None:
        """Open the session (idempotent)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector)

    async def shutdown(self) -> None:
        """Close the session (idempotent)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: float | None = BaseRequest.DEFAULT_NONE,  # type: ignore[assignment]
        write_timeout: float | None = BaseRequest.DEFAULT_NONE,  # type: ignore[assignment]
        connect_timeout: float | None = BaseRequest.DEFAULT_NONE,  # type: ignore[assignment]
        pool_timeout: float | None = BaseRequest.DEFAULT_NONE,  # type: ignore[assignment]
    ) -> tuple[int, bytes]:
        """Send one Bot API request; map aiohttp failures onto PTB's error types."""
        if self._session is None:
            await self.initialize()
        assert self._session is not None
        files = request_data.multipart_data if request_data else None
        data: aiohttp.FormData | None = None
        body: dict[str, str] | None = None
        if files:
            data = aiohttp.FormData()
            for name, value in (request_data.json_parameters if request_data else {}).items():
                data.add_field(name, value)
            for name, (filename, content, mime) in files.items():
                data.add_field(name, content, filename=filename, content_type=mime)
        elif request_data is not None:
            # A JSON body (the Bot API takes one for everything but uploads): encoding it is
            # one C call, where form-encoding quoted every character of a long answer.
            body = request_data.json_parameters

        def pick(value: float | None, default: float | None) -> float | None:
            return default if value is BaseRequest.DEFAULT_NONE else value

        read = pick(read_timeout, self._read)
        write = pick(write_timeout, self._media_write if files else self._write)
        connect = pick(connect_timeout, self._connect)
        pool = pick(pool_timeout, self._pool)
        # aiohttp has no separate write timeout; the read timeout starts after the body is sent.
        wait_conn = None if connect is None or pool is None else connect + pool
        timeout = aiohttp.ClientTimeout(
            total=None, connect=wait_conn, sock_connect=connect,
            sock_read=None if read is None else read + (write or 0),
        )
        metrics.observe_request(url)
        try:
            async with self._session.request(method, url, data=data, json=body,
                                             timeout=timeout) as resp:
                return resp.status, await resp.read()
        except TimeoutError as exc:
            raise TimedOut() from exc
        except asyncio.CancelledError:
            raise
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp: {type(exc).__name__}") from exc
