"""Bot API requests over aiohttp's client instead of httpx.

python-telegram-bot sends through httpx by default. httpx and httpcore are pure Python, and
httpcore's pool checks every idle connection on every request: with the few dozen
connections a busy bot keeps, its HTTP client took half of the service's time. aiohttp (a
dependency already, for the web server) parses HTTP in C and hands out pooled connections
without scanning them.
"""

from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = ["AiohttpRequest", "proxy_from_environment"]

_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# What PTB passes for a timeout the caller did not give.
_NOT_GIVEN = type(BaseRequest.DEFAULT_NONE)


def _timeout(given: Any, default: float | None) -> float | None:
    return default if isinstance(given, _NOT_GIVEN) else given


def proxy_from_environment(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY, ALL_PROXY, NO_PROXY ...)."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` that sends through one `aiohttp.ClientSession` with a bounded pool.

    Timeouts mean what they mean for PTB's `HTTPXRequest`: connect, read (between bytes of
    the answer), write (sending the request, which aiohttp does not time separately: it is
    not enforced) and pool (waiting for a free connection).
    """

    __slots__ = (
        "_connect_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxy",
        "_read_timeout",
        "_session",
    )

    def __init__(
        self,
        connection_pool_size: int = 64,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        proxy: str | None = None,
    ) -> None:
        self._pool_size = connection_pool_size
        self._proxy = proxy
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout, in seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (and its connection pool)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
                # Bot API answers are JSON that PTB reads itself; no cookies are involved.
                cookie_jar=aiohttp.DummyCookieJar(),
                # Given once: with trust_env, aiohttp would look the environment up in a
                # thread on every request.
                proxy=self._proxy,
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; return the status code and the body."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = _timeout(read_timeout, self._read_timeout)
        connect = _timeout(connect_timeout, self._connect_timeout)
        pool = _timeout(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            total=None,
            # aiohttp's `connect` covers waiting for a pooled connection and opening one.
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        data: Any = None
        headers = None
        if request_data is not None:
            if request_data.multipart_data:
                data = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    data.add_field(name, value)
                for name, (filename, content, mimetype) in request_data.multipart_data.items():
                    data.add_field(name, content, filename=filename, content_type=mimetype)
            else:
                # Encoded here, as PTB's HTTPXRequest sends it: given the dict, aiohttp builds
                # a FormData (a multipart writer with a random boundary) for every request,
                # only to urlencode it; that was a tenth of a busy bot's time.
                data = request_data.url_encoded_parameters().encode()
                headers = _FORM
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as res:
                return res.status, await res.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc
