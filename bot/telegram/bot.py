"""Our ExtBot: PTB's calls and errors, without parsing answers we do not read.

The channel stores updates as JSON and reads them as JSON (`adapter.convert`). Through
`Bot.get_updates`, PTB parsed every update into its objects and the poller turned them back
into dicts: an eighth of the service's time under load. The getUpdates request is wrapped
instead: PTB still sends the call and raises its errors (409, 429, network), but the
updates in a successful answer are kept aside as JSON and PTB is handed an empty list.

Likewise every sent or edited message came back as the whole message, which PTB parsed into
a `Message` that nothing of ours reads: a tenth of a busy bot's time. The other requests
are wrapped so that a successful answer to those calls reaches PTB as `true`, which its
send and edit methods return as they are (as for an edited inline message).
"""

from __future__ import annotations

from typing import Any

from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData

__all__ = ["JsonBot"]


# Calls whose answer, the message sent or edited, we never read.
UNREAD_ANSWERS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})
_TRUE = b'{"ok":true,"result":true}'


class _Wrapped(BaseRequest):
    """A request that sends through another one."""

    __slots__ = ("_inner",)

    def __init__(self, inner: BaseRequest) -> None:
        self._inner = inner

    @property
    def read_timeout(self) -> float | None:
        """The wrapped request's default read timeout."""
        return self._inner.read_timeout

    async def initialize(self) -> None:
        """Initialize the wrapped request."""
        await self._inner.initialize()

    async def shutdown(self) -> None:
        """Shut the wrapped request down."""
        await self._inner.shutdown()

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
        """Send through the wrapped request; `_received` may stand in for its answer."""
        status, payload = await self._inner.do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        return status, self._received(url, status, payload)

    def _received(self, _url: str, _status: int, payload: bytes) -> bytes:
        return payload


class _AnswersUnread(_Wrapped):
    """Requests whose successful answer to a call in `UNREAD_ANSWERS` PTB gets as `true`.

    A failed call (any status but 200) comes back as it is, so PTB raises its errors.
    """

    __slots__ = ()

    def _received(self, url: str, status: int, payload: bytes) -> bytes:
        if status == 200 and url.rpartition("/")[2] in UNREAD_ANSWERS:
            return _TRUE
        return payload


class _UpdatesAsJson(_Wrapped):
    """A getUpdates request that keeps the answer's updates as JSON and gives PTB none.

    It overrides `parse_json_payload`, the hook PTB offers for reading answers.
    """

    __slots__ = ("_updates",)

    def __init__(self, inner: BaseRequest) -> None:
        super().__init__(inner)
        self._updates: list[dict[str, Any]] = []

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        """Read an answer; a successful one's updates are kept, and PTB gets an empty list."""
        data = BaseRequest.parse_json_payload(payload)
        result = data.get("result")
        if data.get("ok") is True and isinstance(result, list):
            self._updates = result
            data["result"] = []
        return data

    def take(self) -> list[dict[str, Any]]:
        """The updates of the last successful answer, handed over once."""
        updates, self._updates = self._updates, []
        return updates


class JsonBot(ExtBot[bool]):
    """An ExtBot whose `get_updates_json` returns the updates as the Bot API's JSON.

    Its calls in `UNREAD_ANSWERS` return True, not the message sent or edited.
    """

    __slots__ = ("_updates_as_json",)

    def __init__(
        self, *, request: BaseRequest, get_updates_request: BaseRequest, **kwargs: Any
    ) -> None:
        # Set before ExtBot's __init__, which freezes the object's public attributes.
        self._updates_as_json = _UpdatesAsJson(get_updates_request)
        super().__init__(
            request=_AnswersUnread(request), get_updates_request=self._updates_as_json, **kwargs
        )

    async def get_updates_json(
        self, *, offset: int | None, poll_timeout: int, allowed_updates: list[str]
    ) -> list[dict[str, Any]]:
        """Long-poll once; return the updates as JSON, none of them parsed by PTB."""
        self._updates_as_json.take()  # nothing left from a call that failed half-way
        await self.get_updates(
            offset=offset, timeout=poll_timeout, allowed_updates=allowed_updates
        )
        return self._updates_as_json.take()
