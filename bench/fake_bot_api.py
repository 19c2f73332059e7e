"""A fake Telegram Bot API server on loopback, for benchmarks and tests of Telegram bots.

Serves `POST|GET /bot<TOKEN>/<method>` the way python-telegram-bot calls it with
`base_url="http://127.0.0.1:PORT/bot"`: parameters as a query string, a form (PTB's way:
strings as they are, everything else JSON-encoded), multipart, or a JSON body. Answers
are Bot API JSON. A driver enqueues private-chat messages and button presses, then reads
what the bot sent: every call is recorded with its method, chat, text, status and time.

In process::

    async with FakeBotAPI(delay=0.05, rate_limit=True) as api:
        api.enqueue_message(1001, "/start f-SZ01", language_code="zh-hans")
        ...  # start a bot with base_url=api.base_url
        await api.wait_for_calls("sendMessage", 1, within=10)

Standalone, with a small control API under `/_fake/` (see `build_control_routes`)::

    .venv/bin/python bench/fake_bot_api.py --port 8081 [--delay-ms 50] [--rate-limit]
    curl -d '{"user_id": 1001, "text": "/start f-SZ01"}' 127.0.0.1:8081/_fake/message
    curl -d '{"user_id": 1001, "data": "lang:zh_Hans"}' 127.0.0.1:8081/_fake/press
    curl 127.0.0.1:8081/_fake/calls
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

SENDING_METHODS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})
REPLY_METHODS = SENDING_METHODS | {"answerCallbackQuery"}
DEFAULT_LANGUAGE_CODE = "zh-hans"
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass(slots=True)
class Call:
    """One API call as the server saw it; `t` is `time.monotonic()` at arrival."""

    t: float
    method: str
    status: int
    chat_id: int | str | None = None
    text: str | None = None
    description: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Chat:
    """A private chat with one user: their profile and the messages in it, by id."""

    user_id: int
    first_name: str
    language_code: str | None
    next_message_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    pressed: set[int] = field(default_factory=set)  # bot messages a queued press belongs to
    blocked: bool = False

    def chat_json(self) -> dict[str, Any]:
        """The Bot API Chat object."""
        return {"id": self.user_id, "type": "private", "first_name": self.first_name}

    def user_json(self) -> dict[str, Any]:
        """The Bot API User object of the person."""
        user: dict[str, Any] = {
            "id": self.user_id,
            "is_bot": False,
            "first_name": self.first_name,
        }
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def take_message_id(self) -> int:
        """Allocate the next message id (shared by both sides, as in a private chat)."""
        self.next_message_id += 1
        return self.next_message_id - 1


@dataclass(slots=True)
class Queued:
    """An update waiting in the queue; callback messages are resolved at first delivery."""

    update_id: int
    kind: str
    chat: Chat
    payload: dict[str, Any]
    message_id: int | None = None
    built: dict[str, Any] | None = None
    deliveries: int = 0


@dataclass(slots=True)
class DeliveryReport:
    """Lost and duplicated texts per chat, compared with what was expected."""

    lost: dict[int | str, list[str]]
    duplicated: dict[int | str, list[str]]

    @property
    def lost_count(self) -> int:
        """How many expected texts never arrived."""
        return sum(len(v) for v in self.lost.values())

    @property
    def duplicated_count(self) -> int:
        """How many texts arrived more often than expected."""
        return sum(len(v) for v in self.duplicated.values())


class FakeBotAPI:
    """An in-process fake Bot API server; start with `async with` or `start()`/`stop()`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        delay: float = 0.0,
        rate_limit: bool = False,
        overall_per_second: int = 30,
        per_chat_per_second: int = 1,
        first_update_id: int = 1000,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.delay = delay
        self.rate_limit = rate_limit
        self.overall_per_second = overall_per_second
        self.per_chat_per_second = per_chat_per_second
        self._first_update_id = first_update_id
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()
        self._epoch = 0
        self._ids = itertools.count(1)
        self.reset()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to host:port (0 picks a free port, then `self.port` holds it)."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_routes(build_control_routes(self))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close the server; waiting long polls end."""
        self._epoch += 1
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The server's root URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The value for PTB's `base_url` / TELEGRAM_API_BASE_URL (token is appended)."""
        return f"{self.url}/bot"

    def reset(self, *, delay: float | None = None, rate_limit: bool | None = None) -> None:
        """Forget all chats, updates, calls and settings; calls still in flight are dropped."""
        self._epoch += 1
        if delay is not None:
            self.delay = delay
        if rate_limit is not None:
            self.rate_limit = rate_limit
        self.calls: list[Call] = []
        self.ok_counts: Counter[str] = Counter()  # successful calls by method
        self.chats: dict[int, Chat] = {}
        self.queue: deque[Queued] = deque()
        self.next_update_id = self._first_update_id
        self.webhook_url = ""
        self.commands: list[Any] = []
        self.polls_started = 0
        self.first_batch_at: float | None = None  # monotonic time of the first non-empty batch
        self.redeliveries = 0
        self.dropped_by_filter = 0
        self.callbacks: dict[str, bool] = {}  # callback_query id -> answered
        self.callback_chats: dict[str, int] = {}  # callback_query id -> user id
        self.last_activity = time.monotonic()  # arrival or end of a call other than getUpdates
        self._in_flight = 0
        self._poll_generation = 0
        self._sent_times: deque[float] = deque()
        self._last_send_by_chat: dict[int | str, float] = {}
        self._notify()

    # -- what a driver does ---------------------------------------------------------------

    def chat(self, user_id: int, *, language_code: str | None = None) -> Chat:
        """The chat with `user_id`, created on first use; a `language_code` ("" for none)
        replaces the person's, new people get DEFAULT_LANGUAGE_CODE."""
        chat = self.chats.get(user_id)
        if chat is None:
            chat = Chat(user_id, f"Worker{user_id}", DEFAULT_LANGUAGE_CODE)
            self.chats[user_id] = chat
        if language_code is not None:
            chat.language_code = language_code or None
        return chat

    def enqueue_message(self, user_id: int, text: str, *, language_code: str | None = None) -> int:
        """Queue a private-chat text message from `user_id`; returns its update_id."""
        chat = self.chat(user_id, language_code=language_code)
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "from": chat.user_json(),
            "chat": chat.chat_json(),
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        chat.messages[message["message_id"]] = message
        return self._enqueue(Queued(0, "message", chat, {"message": message}))

    def enqueue_press(
        self,
        user_id: int,
        data: str,
        *,
        language_code: str | None = None,
        message_id: int | None = None,
    ) -> int:
        """Queue a press of an inline button with callback `data`; returns its update_id.

        The press belongs to bot message `message_id`; by default, to the newest bot message
        with a keyboard in that chat that no earlier press belongs to, as it stands when the
        update is first delivered; if there is none yet, to a stand-in keyboard message.
        """
        chat = self.chat(user_id, language_code=language_code)
        query = {
            "id": str(4_000_000_000_000 + next(self._ids)),
            "from": chat.user_json(),
            "chat_instance": str(-(10**12) - user_id),
            "data": data,
        }
        return self._enqueue(
            Queued(0, "callback_query", chat, {"callback_query": query}, message_id)
        )

    def enqueue_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update dict (its update_id is assigned here); returns the update_id."""
        kind = next((k for k in update if k != "update_id"), "unknown")
        body = {k: v for k, v in update.items() if k != "update_id"}
        return self._enqueue(Queued(0, kind, Chat(0, "", None), body))

    def block(self, user_id: int, blocked: bool = True) -> None:
        """Make sends to `user_id` fail with 403 as if the person blocked the bot."""
        self.chat(user_id).blocked = blocked

    def _enqueue(self, queued: Queued) -> int:
        queued.update_id = self.next_update_id
        self.next_update_id += 1
        self.queue.append(queued)
        self._notify()
        return queued.update_id

    # -- what a driver reads --------------------------------------------------------------

    @property
    def undelivered(self) -> int:
        """Updates queued but never handed out by getUpdates."""
        return sum(1 for q in self.queue if q.deliveries == 0)

    @property
    def unconfirmed(self) -> int:
        """Updates still in the queue: not yet confirmed by a later getUpdates offset."""
        return len(self.queue)

    def count(self, *methods: str, status: int | None = 200) -> int:
        """Number of recorded calls of `methods` (all if none) with `status` (any if None)."""
        if status == 200:  # kept up to date: cheap enough for a predicate checked per call
            return sum(self.ok_counts[m] for m in methods) if methods else self.ok_counts.total()
        return sum(
            1
            for c in self.calls
            if (not methods or c.method in methods) and (status is None or c.status == status)
        )

    @property
    def too_many_requests(self) -> int:
        """Number of calls answered with HTTP 429."""
        return self.count(status=429)

    def errors(self) -> Counter[tuple[str, int, str]]:
        """Failed calls counted by (method, status, description)."""
        return Counter(
            (c.method, c.status, c.description or "") for c in self.calls if c.status != 200
        )

    def sent_by_chat(
        self, methods: Iterable[str] = ("sendMessage",)
    ) -> dict[int | str, list[str]]:
        """Texts successfully sent to each chat by `methods`, in arrival order."""
        wanted = set(methods)
        sent: dict[int | str, list[str]] = {}
        for c in sorted(self.calls, key=lambda c: c.t):
            if c.method in wanted and c.status == 200 and c.chat_id is not None:
                sent.setdefault(c.chat_id, []).append(c.text or "")
        return sent

    def compare_deliveries(
        self,
        expected: Mapping[int | str, Sequence[str]],
        methods: Iterable[str] = ("sendMessage",),
    ) -> DeliveryReport:
        """Compare texts sent per chat with `expected` texts per chat (as multisets)."""
        sent = self.sent_by_chat(methods)
        lost: dict[int | str, list[str]] = {}
        duplicated: dict[int | str, list[str]] = {}
        for chat_id in set(expected) | set(sent):
            want, got = Counter(expected.get(chat_id, ())), Counter(sent.get(chat_id, ()))
            if missing := list((want - got).elements()):
                lost[chat_id] = missing
            if extra := list((got - want).elements()):
                duplicated[chat_id] = extra
        return DeliveryReport(lost, duplicated)

    def reply_times(self, methods: Iterable[str] = REPLY_METHODS) -> list[float]:
        """Sorted arrival times of successful calls of `methods`."""
        wanted = set(methods)
        return sorted(c.t for c in self.calls if c.method in wanted and c.status == 200)

    async def wait_until(self, predicate: Callable[[], bool], within: float) -> bool:
        """Wait until `predicate()` holds (checked after every change); False after `within` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    async def wait_for_calls(
        self, method: str = "sendMessage", n: int = 1, within: float = 10.0
    ) -> bool:
        """Wait until `n` successful `method` calls arrived; False after `within` s."""
        return await self.wait_until(lambda: self.count(method) >= n, within)

    def idle_for(self) -> float:
        """Seconds since a call other than getUpdates last arrived or ended (0 if one runs)."""
        return 0.0 if self._in_flight else time.monotonic() - self.last_activity

    async def wait_quiet(self, quiet: float, within: float) -> bool:
        """Wait until no call but getUpdates ran for `quiet` s; False after `within` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            idle = self.idle_for()
            if idle >= quiet:
                return True
            await asyncio.sleep(max(0.01, min(quiet - idle, deadline - loop.time())))
        return False

    # -- HTTP ----------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        epoch = self._epoch
        method = _canonical(request.match_info["method"])
        params: dict[str, Any] = {}
        try:
            if self.token is not None and request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            params = await _read_params(request)
            handler = _HANDLERS.get(method)
            if handler is None:
                raise ApiError(404, "Not Found")
            if method == "getUpdates":
                result = await self._get_updates(params, arrived)
            else:
                result = await self._call(handler, params)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as err:
            status = err.code
            body = {"ok": False, "error_code": err.code, "description": err.description}
            if err.parameters:
                body["parameters"] = err.parameters
        if epoch == self._epoch:
            self._record(arrived, method, status, params, body)
        return web.json_response(body, status=status, dumps=_dumps)

    async def _call(
        self, handler: Callable[[FakeBotAPI, dict[str, Any]], Any], params: dict[str, Any]
    ) -> Any:
        self._in_flight += 1
        self.last_activity = time.monotonic()
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return handler(self, params)
        finally:
            self._in_flight -= 1
            self.last_activity = time.monotonic()

    def _record(
        self, arrived: float, method: str, status: int, params: dict[str, Any], body: Any
    ) -> None:
        chat_id = params.get("chat_id")
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id) if chat_id is not None else None
        if chat_id is None and method == "answerCallbackQuery":
            chat_id = self.callback_chats.get(str(params.get("callback_query_id")))
        text = params.get("text")
        if status == 200:
            self.ok_counts[method] += 1
        self.calls.append(
            Call(
                t=arrived,
                method=method,
                status=status,
                chat_id=chat_id,
                text=text if isinstance(text, str) else None,
                description=None if status == 200 else body.get("description"),
                params=params,
            )
        )
        self._notify()

    # -- getUpdates -----------------------------------------------------------------------

    async def _get_updates(self, params: dict[str, Any], arrived: float) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = _int(params, "offset", 0)
        limit = min(max(_int(params, "limit", 100), 1), 100)
        timeout = max(_float(params, "timeout", 0.0), 0.0)
        allowed = _json(params, "allowed_updates") or None
        self.polls_started += 1
        self._poll_generation += 1
        generation, epoch = self._poll_generation, self._epoch
        self._notify()  # an older long poll waiting now ends with 409
        if self.delay:
            await asyncio.sleep(self.delay)
        self._confirm(offset)
        deadline = arrived + max(timeout, self.delay)
        while True:
            if generation != self._poll_generation or epoch != self._epoch:
                raise ApiError(409, POLL_CONFLICT)
            batch = self._take(limit, allowed)
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        if batch and self.first_batch_at is None:
            self.first_batch_at = time.monotonic()
        return batch

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            while len(self.queue) > -offset:
                self.queue.popleft()
        while self.queue and self.queue[0].update_id < offset:
            self.queue.popleft()

    def _take(self, limit: int, allowed: list[str] | None) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        i = 0
        while i < len(self.queue) and len(batch) < limit:
            queued = self.queue[i]
            if allowed is not None and queued.kind not in allowed:
                del self.queue[i]  # Telegram drops updates of types not allowed
                self.dropped_by_filter += 1
                continue
            if queued.built is None:
                queued.built = {"update_id": queued.update_id, **self._build(queued)}
            if queued.deliveries:
                self.redeliveries += 1
            queued.deliveries += 1
            batch.append(queued.built)
            i += 1
        return batch

    def _build(self, queued: Queued) -> dict[str, Any]:
        if queued.kind != "callback_query" or queued.chat.user_id == 0:
            return queued.payload
        chat = queued.chat
        query = dict(queued.payload["callback_query"])
        message = chat.messages.get(queued.message_id or 0)
        if message is None:  # the newest keyboard no earlier press was given
            message = next(
                (
                    m
                    for m in reversed(chat.messages.values())
                    if m.get("reply_markup")
                    and m["from"]["is_bot"]
                    and m["message_id"] not in chat.pressed
                ),
                None,
            )
        if message is None:  # pressed before the bot answered: a stand-in keyboard message
            button = {"text": query["data"], "callback_data": query["data"]}
            message = self._bot_message(chat, "…", {"inline_keyboard": [[button]]})
        chat.pressed.add(message["message_id"])
        query["message"] = message
        self.callbacks[query["id"]] = False
        self.callback_chats[query["id"]] = chat.user_id
        return {"callback_query": query}

    # -- sending --------------------------------------------------------------------------

    def _bot_message(
        self, chat: Chat, text: str, reply_markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "from": self.bot_user(),
            "chat": chat.chat_json(),
            "date": int(time.time()),
            "text": text,
        }
        if reply_markup:
            message["reply_markup"] = reply_markup
        chat.messages[message["message_id"]] = message
        return message

    def bot_user(self) -> dict[str, Any]:
        """The Bot API User object of the bot (its id is the token's number)."""
        bot_id = 123
        if self.token and self.token.split(":", 1)[0].isdigit():
            bot_id = int(self.token.split(":", 1)[0])
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": "FFS Bench Bot",
            "username": "ffs_bench_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _target_chat(self, params: dict[str, Any]) -> Chat:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            chat = self.chats.get(int(chat_id))
        except (TypeError, ValueError):
            chat = None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _check_rate(self, chat: Chat) -> None:
        if not self.rate_limit:
            return
        now = time.monotonic()
        while self._sent_times and self._sent_times[0] <= now - 1.0:
            self._sent_times.popleft()
        waits = []
        if len(self._sent_times) >= self.overall_per_second:
            waits.append(self._sent_times[0] + 1.0 - now)
        last = self._last_send_by_chat.get(chat.user_id)
        if last is not None and now - last < 1.0 / self.per_chat_per_second:
            waits.append(last + 1.0 / self.per_chat_per_second - now)
        if waits:
            retry_after = max(1, math.ceil(max(waits)))
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        self._sent_times.append(now)
        self._last_send_by_chat[chat.user_id] = now

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = _json(params, "reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and len(str(data).encode()) > MAX_CALLBACK_DATA:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._target_chat(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._markup(params)
        self._check_rate(chat)
        return self._bot_message(chat, text, markup)

    def _edited(self, params: dict[str, Any]) -> tuple[Chat, dict[str, Any]]:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat = self._target_chat(params)
        message = chat.messages.get(_int(params, "message_id", 0))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not message["from"]["is_bot"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, message

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, message = self._edited(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._markup(params)  # no reply_markup: Telegram removes the keyboard
        if text == message["text"] and markup == message.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        self._check_rate(chat)
        return self._apply_edit(message, text, markup)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, message = self._edited(params)
        markup = self._markup(params)
        if markup == message.get("reply_markup") or (
            not markup and not message.get("reply_markup")
        ):
            raise ApiError(400, NOT_MODIFIED)
        self._check_rate(chat)
        return self._apply_edit(message, message["text"], markup)

    @staticmethod
    def _apply_edit(
        message: dict[str, Any], text: str, markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        message["text"] = text
        message["edit_date"] = int(time.time())
        if markup and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return message

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if self.callbacks.get(query_id, True):  # unknown or already answered
            raise ApiError(400, QUERY_INVALID)
        self.callbacks[query_id] = True
        return True

    # -- the rest -------------------------------------------------------------------------

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user()

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = ""
        if _bool(params, "drop_pending_updates"):
            self.queue.clear()
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        if url and not str(url).startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        self.webhook_url = str(url)
        if _bool(params, "drop_pending_updates"):
            self.queue.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.queue),
        }

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = _json(params, "commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        self.commands = commands
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[Any]:
        return self.commands

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.commands = []
        return True

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._target_chat(params)
        return True

    def _true(self, params: dict[str, Any]) -> bool:
        return True


_HANDLERS: dict[str, Callable[[FakeBotAPI, dict[str, Any]], Any]] = {
    "getMe": FakeBotAPI._get_me,
    "getUpdates": FakeBotAPI._true,  # served by FakeBotAPI._get_updates
    "deleteWebhook": FakeBotAPI._delete_webhook,
    "setWebhook": FakeBotAPI._set_webhook,
    "getWebhookInfo": FakeBotAPI._get_webhook_info,
    "setMyCommands": FakeBotAPI._set_my_commands,
    "getMyCommands": FakeBotAPI._get_my_commands,
    "deleteMyCommands": FakeBotAPI._delete_my_commands,
    "sendMessage": FakeBotAPI._send_message,
    "editMessageText": FakeBotAPI._edit_message_text,
    "editMessageReplyMarkup": FakeBotAPI._edit_message_reply_markup,
    "answerCallbackQuery": FakeBotAPI._answer_callback_query,
    "sendChatAction": FakeBotAPI._send_chat_action,
    "close": FakeBotAPI._true,
    "logOut": FakeBotAPI._true,
}
_CANONICAL = {name.lower(): name for name in _HANDLERS}


def _canonical(method: str) -> str:
    """Bot API method names are case-insensitive."""
    return _CANONICAL.get(method.lower(), method)


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Parameters from the query string and a form, multipart or JSON body."""
    params: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as err:
            raise ApiError(400, "Bad Request: can't parse JSON body") from err
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: JSON body must be an object")
        params.update(body)
    else:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _json(params: dict[str, Any], key: str) -> Any:
    """A parameter that is JSON: form values are JSON text, JSON bodies may nest it."""
    value = params.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as err:
            raise ApiError(400, f"Bad Request: can't parse {key}") from err
    return value


def _int(params: dict[str, Any], key: str, default: int) -> int:
    """An integer parameter."""
    value = params.get(key, default)
    try:
        return int(value)
    except (TypeError, ValueError) as err:
        raise ApiError(400, f"Bad Request: bad {key}") from err


def _float(params: dict[str, Any], key: str, default: float) -> float:
    """A number parameter."""
    value = params.get(key, default)
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise ApiError(400, f"Bad Request: bad {key}") from err


def _bool(params: dict[str, Any], key: str) -> bool:
    """A boolean parameter ('true' in forms, true in JSON)."""
    value = params.get(key)
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def _dumps(obj: Any) -> str:
    """Compact JSON with real UTF-8, as Telegram answers."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def build_control_routes(api: FakeBotAPI) -> list[web.RouteDef]:
    """Routes under /_fake/ for driving a standalone server over HTTP."""

    async def message(request: web.Request) -> web.Response:
        body = await request.json()
        update_id = api.enqueue_message(
            int(body["user_id"]), body["text"], language_code=body.get("language_code")
        )
        return web.json_response({"update_id": update_id})

    async def press(request: web.Request) -> web.Response:
        body = await request.json()
        update_id = api.enqueue_press(
            int(body["user_id"]),
            body["data"],
            language_code=body.get("language_code"),
            message_id=body.get("message_id"),
        )
        return web.json_response({"update_id": update_id})

    async def calls(request: web.Request) -> web.Response:
        since = float(request.query.get("since", "0"))
        rows = [asdict(c) for c in api.calls if c.t >= since]
        return web.json_response(rows, dumps=_dumps)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "calls": Counter(c.method for c in api.calls),
                "errors": [[*k, n] for k, n in api.errors().items()],
                "too_many_requests": api.too_many_requests,
                "unconfirmed": api.unconfirmed,
                "undelivered": api.undelivered,
                "sent_by_chat": {str(k): v for k, v in api.sent_by_chat().items()},
            },
            dumps=_dumps,
        )

    async def reset(request: web.Request) -> web.Response:
        api.reset()
        return web.json_response({"ok": True})

    return [
        web.post("/_fake/message", message),
        web.post("/_fake/press", press),
        web.get("/_fake/calls", calls),
        web.get("/_fake/stats", stats),
        web.post("/_fake/reset", reset),
    ]


async def _serve(args: argparse.Namespace) -> None:
    api = FakeBotAPI(
        port=args.port,
        token=args.token,
        delay=args.delay_ms / 1000,
        rate_limit=args.rate_limit,
    )
    async with api:
        print(f"fake Bot API on {api.base_url} (stops after {args.max_seconds:.0f} s)", flush=True)
        await asyncio.sleep(args.max_seconds)


def main() -> None:
    """Run the fake server standalone until --max-seconds pass or Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", help="accept only this bot token (default: any)")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added to every API call")
    parser.add_argument(
        "--rate-limit", action="store_true", help="429 above 30 sends/s overall or 1/s per chat"
    )
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
