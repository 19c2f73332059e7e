"""An in-memory Telegram Bot API behind python-telegram-bot's request hook: no network.

It records every call, hands out queued updates to getUpdates, answers sendMessage with real
Message objects, and can be told to fail: 403 for chats that blocked the bot, scripted 429s
with retry_after, and network errors.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

BOT_USER = {"id": 999, "is_bot": True, "first_name": "FFS Bot", "username": "ffs_test_bot"}


@dataclass
class Call:
    """One Bot API call as the bot made it."""

    method: str
    params: dict[str, Any]
    status: int = 200


@dataclass
class FakeBotApi:
    """The fake Telegram; `request()` gives the BaseRequest to hand to a Bot."""

    calls: list[Call] = field(default_factory=list)
    queued: list[dict[str, Any]] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    # Per method, scripted failures taken one by one: ("429", seconds) or ("network", 0).
    failures: dict[str, deque[tuple[str, float]]] = field(default_factory=dict)
    clock: Any = None
    call_times: list[tuple[float, str, Any]] = field(default_factory=list)
    # Seconds each call other than getUpdates takes, and how many were in flight at most.
    latency: float = 0.0
    # As aiohttp on Python 3.11: a request reaches the server one turn of the event loop
    # after it is made (the body is written from a task of its own).
    sent_next_turn: bool = False
    in_flight: int = 0
    most_in_flight: int = 0
    _update_ids: Any = field(default_factory=lambda: itertools.count(1))
    _message_ids: Any = field(default_factory=lambda: itertools.count(1000))

    def request(self) -> BaseRequest:
        return _FakeRequest(self)

    # Building updates -------------------------------------------------------------------
    @staticmethod
    def user(user_id: int, language_code: str | None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if language_code:
            user["language_code"] = language_code
        return user

    def text(self, user_id: int, text: str, language_code: str | None = "zh-hans") -> dict:
        return {
            "update_id": next(self._update_ids),
            "message": {
                "message_id": next(self._message_ids),
                "date": 1_780_000_000,
                "chat": {"id": user_id, "type": "private", "first_name": f"User{user_id}"},
                "from": self.user(user_id, language_code),
                "text": text,
                **(
                    {
                        "entities": [
                            {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
                        ]
                    }
                    if text.startswith("/")
                    else {}
                ),
            },
        }

    def press(
        self,
        user_id: int,
        data: str,
        message_id: int | None = None,
        language_code: str | None = "zh-hans",
    ) -> dict:
        if message_id is None:
            message_id = self.last_message_id(user_id)
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": f"cb{next(self._message_ids)}",
                "from": self.user(user_id, language_code),
                "chat_instance": "ci",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": 1_780_000_000,
                    "chat": {"id": user_id, "type": "private", "first_name": f"User{user_id}"},
                    "from": BOT_USER,
                    "text": "…",
                },
            },
        }

    def member(self, user_id: int, status: str) -> dict:
        old = "member" if status == "kicked" else "kicked"
        return {
            "update_id": next(self._update_ids),
            "my_chat_member": {
                "chat": {"id": user_id, "type": "private", "first_name": f"User{user_id}"},
                "from": self.user(user_id, None),
                "date": 1_780_000_000,
                "old_chat_member": self._chat_member(old),
                "new_chat_member": self._chat_member(status),
            },
        }

    @staticmethod
    def _chat_member(status: str) -> dict[str, Any]:
        return {
            "user": BOT_USER,
            "status": status,
            **({"until_date": 0} if status == "kicked" else {}),
        }

    # Reading what the bot did -----------------------------------------------------------
    def of(self, method: str) -> list[dict[str, Any]]:
        """The parameters of the calls of `method` that succeeded."""
        return [c.params for c in self.calls if c.method == method and c.status == 200]

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        return [p for p in self.of("sendMessage") if int(p["chat_id"]) == chat_id]

    def last_message_id(self, chat_id: int) -> int:
        return self._last_ids.get(chat_id, 1)

    def buttons(self, params: dict[str, Any]) -> list[str]:
        markup = params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]

    def fail_next(self, method: str, kind: str, seconds: float = 0.0) -> None:
        self.failures.setdefault(method, deque()).append((kind, seconds))

    def __post_init__(self) -> None:
        self._last_ids: dict[int, int] = {}

    # Answering --------------------------------------------------------------------------
    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        call = Call(method, params)
        self.calls.append(call)
        status, body = self._answer(method, params)
        call.status = status
        return status, body

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.clock is not None:
            self.call_times.append((self.clock(), method, params.get("chat_id")))
        scripted = self.failures.get(method)
        if scripted:
            kind, seconds = scripted.popleft()
            if kind == "409":
                return 409, {
                    "ok": False,
                    "error_code": 409,
                    "description": "Conflict: terminated by other getUpdates request",
                }
            if kind == "429":
                return 429, {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {int(seconds)}",
                    "parameters": {"retry_after": seconds},
                }
            self.calls[-1].status = 0
            raise NetworkError("connection reset (scripted)")
        if method == "getMe":
            return 200, {"ok": True, "result": BOT_USER}
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            self.queued = [u for u in self.queued if u["update_id"] >= offset]
            limit = int(params.get("limit") or 100)
            return 200, {"ok": True, "result": self.queued[:limit]}
        if method in ("sendMessage", "sendDocument", "editMessageReplyMarkup", "editMessageText"):
            chat_id = int(params["chat_id"])
            if chat_id in self.blocked:
                return 403, {
                    "ok": False,
                    "error_code": 403,
                    "description": "Forbidden: bot was blocked by the user",
                }
            if method not in ("sendMessage", "sendDocument"):
                return 200, {"ok": True, "result": True}
            message_id = next(self._message_ids)
            self._last_ids[chat_id] = message_id
            message = {
                "message_id": message_id,
                "date": 1_780_000_000,
                "chat": {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            if method == "sendDocument":
                del message["text"]
                message["caption"] = params.get("caption", "")
                message["document"] = {"file_id": f"f{message_id}", "file_unique_id": "u"}
            if params.get("reply_markup"):
                markup = params["reply_markup"]
                message["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
            return 200, {"ok": True, "result": message}
        return 200, {"ok": True, "result": True}


class _FakeRequest(BaseRequest):
    def __init__(self, api: FakeBotApi) -> None:
        self._api = api

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        if request_data is not None and request_data.contains_files:
            # Files travel as multipart parts: keep (file name, bytes) for the tests to read.
            params["_files"] = {
                name: (part[0], part[1])
                for name, part in (request_data.multipart_data or {}).items()
            }
        if self._api.sent_next_turn:
            await asyncio.sleep(0)
        if self._api.latency and api_method != "getUpdates":
            self._api.in_flight += 1
            self._api.most_in_flight = max(self._api.most_in_flight, self._api.in_flight)
            try:
                await asyncio.sleep(self._api.latency)
            finally:
                self._api.in_flight -= 1
        status, body = self._api.answer(api_method, params)
        if api_method == "getUpdates" and not body.get("result"):
            await asyncio.sleep(0.01)  # a short stand-in for long polling's wait
        return status, json.dumps(body).encode()
