"""WeChat's server API over aiohttp, with the access token shared through the database.

WeChat answers errors with HTTP 200 and a JSON body `{"errcode": ..., "errmsg": ...}`, so
every answer's `errcode` is read. Requests carry the access token in the query string (and
the token fetch carries the app secret): no URL is ever logged or put in an error message.

Errors::

    WeChatError
     ├── WeChatNotConfigured   WECHAT_APP_ID or WECHAT_APP_SECRET is not set
     ├── WeChatApiError        WeChat answered with a nonzero errcode (errcode, errmsg)
     └── WeChatUnavailable     no usable answer: network, timeout, HTTP status, not JSON
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

import aiohttp

from ffs_bot.config import Settings
from ffs_bot.db.tables import utcnow
from ffs_bot.db.uow import Database
from ffs_bot.services.api_tokens import (
    StoredToken,
    claim_refresh,
    invalidate_token,
    read_token,
    release_refresh,
    renew_at,
    store_token,
)

__all__ = [
    "TOKEN_ERRORS",
    "WeChatApi",
    "WeChatApiError",
    "WeChatError",
    "WeChatNotConfigured",
    "WeChatUnavailable",
]

log = logging.getLogger(__name__)

# invalid credential, invalid access_token, access_token expired: fetch another and retry.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# How long one process may take to fetch a token before another may try.
REFRESH_LEASE = timedelta(seconds=30)
TIMEOUT_SECONDS = 10.0


class WeChatError(Exception):
    """Base of the errors of WeChat's API."""


class WeChatNotConfigured(WeChatError):
    """The account's app id or secret is missing."""


class WeChatUnavailable(WeChatError):
    """No usable answer: the network failed, WeChat timed out, or answered garbage."""


class WeChatApiError(WeChatError):
    """WeChat answered a call with a nonzero `errcode`."""

    def __init__(self, path: str, errcode: int, errmsg: str) -> None:
        super().__init__(f"{path}: errcode {errcode}: {errmsg}")
        self.path = path
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatApi:
    """One Official Account's API; one HTTP session, one access token for every process."""

    def __init__(
        self,
        db: Database,
        *,
        app_id: str,
        app_secret: str,
        base_url: str = "https://api.weixin.qq.com",
        clock: Callable[[], datetime] = utcnow,
        timeout: float = TIMEOUT_SECONDS,
        token_wait: float = 15.0,
        token_poll: float = 0.25,
    ) -> None:
        self._db = db
        self._app_id = app_id
        self._secret = app_secret
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        # How long to wait for another process's fetch, and how often to look for its result.
        self._token_wait = token_wait
        self._token_poll = token_poll
        # Named by account, so a changed WECHAT_APP_ID never picks up the old account's token.
        self._token_name = f"wechat:{app_id}"
        self._token: StoredToken | None = None
        self._token_lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, db: Database, *, clock: Callable[[], datetime] = utcnow
    ) -> WeChatApi:
        """Build the API from WECHAT_APP_ID, WECHAT_APP_SECRET and WECHAT_API_BASE_URL."""
        if not settings.wechat_app_id or settings.wechat_app_secret is None:
            raise WeChatNotConfigured(
                "WECHAT_APP_ID and WECHAT_APP_SECRET must be set to call WeChat's API"
            )
        return cls(
            db,
            app_id=settings.wechat_app_id,
            app_secret=settings.wechat_app_secret.get_secret_value(),
            base_url=settings.wechat_api_base_url,
            clock=clock,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    # The calls ------------------------------------------------------------------------

    async def send_text(self, openid: str, text: str) -> None:
        """Send a customer-service text message."""
        await self._call(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "text", "text": {"content": text}},
        )

    async def upload_image(self, filename: str, content: bytes, mime: str) -> str:
        """Upload an image as temporary media (kept three days); return its media id."""
        body = await self._call(
            "/cgi-bin/media/upload", query={"type": "image"}, upload=(filename, content, mime)
        )
        media_id = body.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WeChatUnavailable("/cgi-bin/media/upload: no media_id in the answer")
        return media_id

    async def send_image(self, openid: str, media_id: str) -> None:
        """Send an uploaded image as a customer-service message."""
        await self._call(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "image", "image": {"media_id": media_id}},
        )

    async def send_template(self, openid: str, template_id: str, fields: dict[str, str]) -> None:
        """Send a template message, filling the template's fields by name."""
        await self._call(
            "/cgi-bin/message/template/send",
            {
                "touser": openid,
                "template_id": template_id,
                "data": {name: {"value": value} for name, value in fields.items()},
            },
        )

    async def create_menu(self, menu: dict[str, Any]) -> None:
        """Replace the account's custom menu."""
        await self._call("/cgi-bin/menu/create", menu)

    # The access token -------------------------------------------------------------------

    async def access_token(self) -> str:
        """Return a valid access token: this process's copy, the shared one, or a new one."""
        token = self._token
        if token is not None and token.renew_at > self._clock():
            return token.token
        # Callers in this process wait for one lookup rather than each making their own.
        async with self._token_lock:
            token = self._token
            if token is None or token.renew_at <= self._clock():
                token = self._token = await self._shared_token()
            return token.token

    async def _shared_token(self) -> StoredToken:
        waited = 0.0
        while True:
            now = self._clock()
            async with self._db.uow() as uow:
                stored = await read_token(uow, self._token_name, now=now)
                if stored is not None:
                    return stored
                claimed = await claim_refresh(uow, self._token_name, lease=REFRESH_LEASE, now=now)
                await uow.commit()
            if claimed:
                return await self._fetch_token()
            # Another process is fetching it: read its result in a moment.
            if waited >= self._token_wait:
                raise WeChatUnavailable("another process is fetching the access token; gave up")
            await asyncio.sleep(self._token_poll)
            waited += self._token_poll

    async def _fetch_token(self) -> StoredToken:
        """Fetch a new token (outside any transaction) and store it for every process."""
        try:
            body = await self._request(
                "GET",
                "/cgi-bin/token",
                {"grant_type": "client_credential", "appid": self._app_id, "secret": self._secret},
            )
            token, expires_in = body.get("access_token"), body.get("expires_in")
            if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
                raise WeChatUnavailable("/cgi-bin/token: no access_token in the answer")
        except Exception:
            async with self._db.uow() as uow:
                await release_refresh(uow, self._token_name)
                await uow.commit()
            raise
        now = self._clock()
        fetched = StoredToken(token, renew_at(now, expires_in))
        async with self._db.uow() as uow:
            await store_token(uow, self._token_name, token, fetched.renew_at, now=now)
            await uow.commit()
        log.info("fetched a new WeChat access token, to renew at %s", fetched.renew_at)
        return fetched

    async def _forget_token(self, token: str) -> None:
        if self._token is not None and self._token.token == token:
            self._token = None
        async with self._db.uow() as uow:
            await invalidate_token(uow, self._token_name, token, now=self._clock())
            await uow.commit()

    # HTTP -------------------------------------------------------------------------------

    async def _call(
        self,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        query: dict[str, str] | None = None,
        upload: tuple[str, bytes, str] | None = None,
    ) -> dict[str, Any]:
        """POST to `path` with the access token; a rejected token is renewed once."""
        for attempt in (1, 2):
            token = await self.access_token()
            try:
                return await self._request(
                    "POST", path, {**(query or {}), "access_token": token}, payload, upload
                )
            except WeChatApiError as exc:
                if exc.errcode not in TOKEN_ERRORS or attempt == 2:
                    raise
                log.warning("WeChat refused the access token (errcode %d); renewing", exc.errcode)
                await self._forget_token(token)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        payload: dict[str, Any] | None = None,
        upload: tuple[str, bytes, str] | None = None,
    ) -> dict[str, Any]:
        """Make one request and return its JSON body, or raise for a nonzero errcode."""
        data: Any = None
        headers = {}
        if upload is not None:
            filename, content, mime = upload
            data = aiohttp.FormData()
            data.add_field("media", content, filename=filename, content_type=mime)
        elif payload is not None:
            # UTF-8 as it is: WeChat has shown \u escapes literally (in menus, notably).
            # A lone surrogate has no UTF-8: it goes as "?" rather than fail the push forever.
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8", "replace")
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            async with self._http().request(
                method, self._base_url + path, params=query, data=data, headers=headers
            ) as response:
                status, raw = response.status, await response.read()
        # `from None`: aiohttp's own errors may quote the URL, and with it the token.
        except TimeoutError:
            raise WeChatUnavailable(f"{path}: timed out") from None
        except aiohttp.ClientError as exc:
            raise WeChatUnavailable(f"{path}: {type(exc).__name__}") from None
        if status != 200:
            raise WeChatUnavailable(f"{path}: HTTP {status}")
        try:
            body = json.loads(raw)
        except ValueError:
            raise WeChatUnavailable(f"{path}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise WeChatUnavailable(f"{path}: the answer is not a JSON object")
        errcode = body.get("errcode", 0)
        if errcode:
            raise WeChatApiError(path, _as_int(errcode), self._scrub(str(body.get("errmsg", ""))))
        return body

    def _scrub(self, text: str) -> str:
        """Hide the secret and tokens should an error message ever quote them."""
        for secret in (self._secret, self._token.token if self._token else ""):
            if secret:
                text = text.replace(secret, "***")
        return text[:200]


def _as_int(value: object) -> int:
    """An errcode as a number; one WeChat never sends is read as "busy, try again"."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdecimal():
        return int(value)
    return -1
