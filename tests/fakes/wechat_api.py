"""A fake WeChat Official Account API: a real aiohttp server on 127.0.0.1, at the network edge.

It issues access tokens (checking the app id and secret), checks the token of every other
call, records each call (its query, its raw body and the JSON or file in it), and answers as
WeChat does: HTTP 200 with `{"errcode": ..., "errmsg": ...}`. Tests script failures per
path: any errcode, a dropped connection, an HTTP error; `expire_tokens()` makes every token
issued so far answer 42001.

    async with FakeWeChatApi() as wechat:
        api = WeChatApi(db, app_id=wechat.app_id, app_secret=wechat.secret,
                        base_url=wechat.base_url)
        wechat.fail("/cgi-bin/message/custom/send", 45015)
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import BodyPartReader, web

TOKEN = "/cgi-bin/token"
CUSTOM_SEND = "/cgi-bin/message/custom/send"
TEMPLATE_SEND = "/cgi-bin/message/template/send"
UPLOAD = "/cgi-bin/media/upload"
MENU_CREATE = "/cgi-bin/menu/create"
DROP = "drop"  # a scripted failure: close the connection without answering
HTTP_ERROR = "http-502"  # a scripted failure: a proxy's 502 page


@dataclass
class Call:
    """One request as the client made it, and the errcode it was answered with."""

    path: str
    query: dict[str, str]
    raw: bytes
    body: Any = None  # the JSON sent, or for an upload {"filename", "content_type", "size"}
    errcode: int | str = 0

    @property
    def ok(self) -> bool:
        return self.errcode == 0


@dataclass
class FakeWeChatApi:
    """The fake server; `base_url` is what WECHAT_API_BASE_URL should be."""

    app_id: str = "wx0123456789abcdef"
    secret: str = "app-secret-0123456789abcdef0123"
    expires_in: int = 7200
    calls: list[Call] = field(default_factory=list)
    # Tokens a call is accepted with, and those that were good once (answered with 42001).
    valid: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    # While set and not released, token requests wait: other callers pile up meanwhile.
    token_gate: asyncio.Event | None = None
    token_asked: asyncio.Event = field(default_factory=asyncio.Event)
    failures: dict[str, deque[int | str]] = field(default_factory=lambda: defaultdict(deque))
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # Scripting and reading ------------------------------------------------------------

    def fail(self, path: str, *failures: int | str) -> None:
        """Answer the next calls of `path` with these errcodes, DROP or HTTP_ERROR."""
        self.failures[path].extend(failures)

    def expire_tokens(self) -> None:
        """Every token issued so far is now expired (42001), as after two hours."""
        self.expired |= self.valid
        self.valid.clear()

    def of(self, path: str, *, ok: bool | None = None) -> list[Call]:
        """The calls of `path` (only those answered with errcode 0, or not, if asked)."""
        return [c for c in self.calls if c.path == path and (ok is None or c.ok == ok)]

    @property
    def tokens_issued(self) -> int:
        return len(self.of(TOKEN, ok=True))

    # Serving --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        raw = await request.read() if not path.startswith(UPLOAD) else b""
        call = Call(path, dict(request.query), raw)
        if path == UPLOAD:
            call.body = await self._read_upload(request)
        elif raw:
            call.body = json.loads(raw.decode("utf-8"))
        self.calls.append(call)
        if path == TOKEN:
            return await self._token(request, call)
        token = request.query.get("access_token", "")
        if token not in self.valid:
            return self._error(call, 42001 if token in self.expired else 40001)
        scripted = self.failures[path].popleft() if self.failures[path] else 0
        if scripted == DROP:
            call.errcode = DROP
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if scripted == HTTP_ERROR:
            call.errcode = HTTP_ERROR
            return web.Response(status=502, text="<html>Bad Gateway</html>")
        if scripted:
            return self._error(call, int(scripted))
        if path == UPLOAD:
            return web.json_response({"type": "image", "media_id": f"media-{next(self._ids)}"})
        if path == TEMPLATE_SEND:
            return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": next(self._ids)})
        if path in (CUSTOM_SEND, MENU_CREATE):
            return web.json_response({"errcode": 0, "errmsg": "ok"})
        return self._error(call, 40066)  # invalid url

    async def _token(self, request: web.Request, call: Call) -> web.StreamResponse:
        self.token_asked.set()
        if self.token_gate is not None:
            await self.token_gate.wait()
        query = request.query
        if query.get("grant_type") != "client_credential" or query.get("appid") != self.app_id:
            return self._error(call, 40013)
        if query.get("secret") != self.secret:
            return self._error(call, 40125)
        scripted = self.failures[TOKEN].popleft() if self.failures[TOKEN] else 0
        if scripted:
            return self._error(call, int(scripted))
        token = f"token-{next(self._ids)}-" + "x" * 100
        self.valid.add(token)
        return web.json_response({"access_token": token, "expires_in": self.expires_in})

    @staticmethod
    async def _read_upload(request: web.Request) -> dict[str, Any]:
        if request.query.get("type") != "image":
            return {}
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, BodyPartReader) and part.name == "media":
                content = await part.read()
                return {
                    "filename": part.filename,
                    "content_type": part.headers.get("Content-Type"),
                    "size": len(content),
                }
        return {}

    @staticmethod
    def _error(call: Call, errcode: int) -> web.Response:
        call.errcode = errcode
        return web.json_response({"errcode": errcode, "errmsg": f"fake error {errcode}"})
