"""The WeChat channel: answer within WeChat's 5 seconds, or say `success` and answer later.

WeChat posts each message and waits 5 seconds for the answer in the response body (a
passive reply); with no response it retries, up to three times. A message is answered once:
the engine records each answer under the message's id (`MsgId`, or sender and time for
events), so a retry gets the same answer and has no second effect. What does not fit in
one passive reply, and every answer that was not ready in time, goes out through the outbox
as customer-service messages: stored first, so a restart does not lose it.

Each signed request's (timestamp, nonce) is bound to the body it first came with, in the
database, before anything is done (`ffs_bot.services.signed_requests`): WeChat's retry of a
message (same pair, same body) is answered as above, while another body under a used pair,
on whichever replica, is refused. The server check binds its pair to its `echostr` alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from bot.wechat.adapter import (
    CHANNEL,
    Envelope,
    Keys,
    Refused,
    SignedPair,
    WeChatMessage,
    convert,
    open_envelope,
    passive_reply,
    verify_server,
)
from bot.wechat.render import wechat_texts
from ffs_bot.db.outage import is_unavailable
from ffs_bot.db.uow import Database
from ffs_bot.i18n import N_, Translator
from ffs_bot.messages import Reply
from ffs_bot.outbox import enqueue
from ffs_bot.services import signed_requests
from handlers.engine import ConversationEngine

__all__ = ["SUCCESS", "WeChatChannel"]

log = logging.getLogger(__name__)

# WeChat's word for "received, no passive reply": it neither retries nor shows an error.
SUCCESS = "success"
# WeChat sends pictures only as uploaded media; other files it cannot carry at all.
IMAGE_TYPES = ("image/png", "image/jpeg")
NO_FILES = N_(
    "WeChat cannot carry the file {name}. Ask for it on Telegram, or ask the programme office."
)
# How long a stop waits for answers still being worked out.
STOP_GRACE = 20.0


class _Lane:
    """One person's messages, one at a time: a lock shared while anyone waits on it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class WeChatChannel:
    """Verifies, answers and, when late, queues the answers to WeChat messages."""

    def __init__(
        self,
        keys: Keys,
        conversations: ConversationEngine,
        db: Database,
        translators: dict[str, Translator],
        *,
        reply_seconds: float = 4.0,
        concurrency: int = 64,
    ) -> None:
        self._keys = keys
        self._conversations = conversations
        self._db = db
        self._translators = translators
        self._reply_seconds = reply_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._lanes: dict[str, _Lane] = {}
        # Answers still being worked out after `success`, and their queueing.
        self._background: set[asyncio.Future[Any]] = set()

    async def verify(self, query: Mapping[str, str]) -> str:
        """Answer WeChat's server check (raises `Refused` when the signature is wrong or used)."""
        echo, signed = verify_server(self._keys, query)
        await self._bind(signed)
        return echo

    async def receive(self, query: Mapping[str, str], body: bytes) -> str:
        """Answer one POST from WeChat: the passive reply's XML, or `success`.

        Raises:
            Refused: the request is not from WeChat, or its signed pair came with another
                body; nothing was processed.
            ValueError: the message cannot be read.
        """
        envelope = open_envelope(self._keys, query, body)
        message = convert(envelope.xml)
        try:
            await self._bind(envelope.signed)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            # Unbound, nothing may be done: the person is asked to send it again shortly.
            log.warning("database unreachable; a WeChat message not handled")
            inbound = message.inbound
            replies = [] if inbound is None else self._conversations.not_handled(inbound)
            return await self._passive(envelope, message, replies)
        work = asyncio.ensure_future(self._work(message))
        try:
            replies = await asyncio.wait_for(asyncio.shield(work), self._reply_seconds)
        except TimeoutError:
            # Too slow for a passive reply: acknowledge now, answer when the step is done.
            self._background.add(work)
            work.add_done_callback(lambda done: self._later(message, done))
            return SUCCESS
        return await self._passive(envelope, message, replies)

    async def _bind(self, signed: SignedPair) -> None:
        async with self._db.uow() as uow:
            fresh = await signed_requests.bind(
                uow, CHANNEL, signed.stamp, signed.nonce, signed.digest
            )
            await uow.commit()
        if not fresh:
            raise Refused("a used signature with another body")

    async def stop(self) -> None:
        """Let answers still being worked out (and queued) finish."""
        while self._background:
            # A step finishing now starts its queueing: wait for that as well.
            done, _ = await asyncio.wait(list(self._background), timeout=STOP_GRACE)
            if not done:
                break
            await asyncio.sleep(0)

    async def _work(self, message: WeChatMessage) -> list[Reply]:
        lane = self._lanes.setdefault(message.openid, _Lane())
        lane.users += 1
        try:
            async with lane.lock, self._slots:
                if message.reachable is not None:
                    await self._conversations.set_reachable(
                        CHANNEL,
                        message.openid,
                        reachable=message.reachable,
                        event_id=message.event_id,
                    )
                    return []
                if message.inbound is None:
                    return []
                return await self._conversations.handle(message.inbound)
        finally:
            lane.users -= 1
            if not lane.users:
                del self._lanes[message.openid]

    async def _passive(
        self, envelope: Envelope, message: WeChatMessage, replies: list[Reply]
    ) -> str:
        texts, files = await self._split(message, replies)
        if not texts:
            await self._queue(message, "wx-more", files)
            return SUCCESS
        # The rest goes after the passive reply: the outbox keeps one person's rows in order.
        await self._queue(message, "wx-more", [Reply(t) for t in texts[1:]] + files)
        return passive_reply(envelope, message, texts[0])

    def _later(self, message: WeChatMessage, work: asyncio.Future[list[Reply]]) -> None:
        self._background.discard(work)
        if work.cancelled():
            log.warning("a late WeChat answer was cancelled")
            return
        if (error := work.exception()) is not None:
            log.error("a late WeChat answer failed", exc_info=error)
            return
        task = asyncio.create_task(self._send_late(message, work.result()))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_late(self, message: WeChatMessage, replies: list[Reply]) -> None:
        texts, files = await self._split(message, replies)
        try:
            await self._queue(message, "wx-late", [Reply(t) for t in texts] + files)
        except Exception:
            log.exception("could not queue a late WeChat answer")

    async def _split(
        self, message: WeChatMessage, replies: list[Reply]
    ) -> tuple[list[str], list[Reply]]:
        """The replies as WeChat texts, and the pictures to send after them as media."""
        plain: list[Reply] = []
        files: list[Reply] = []
        for reply in replies:
            plain.append(Reply(reply.text, reply.choices, numbered=reply.numbered))
            attachment = reply.attachment
            if attachment is None:
                continue
            if attachment.mime in IMAGE_TYPES:
                files.append(Reply("", attachment=attachment))
            else:
                language = await self._conversations.language_of(CHANNEL, message.openid)
                t = self._translators[language]
                plain.append(Reply(t._(NO_FILES, name=attachment.filename)))
        return wechat_texts([r for r in plain if r.text or r.choices]), files

    async def _queue(self, message: WeChatMessage, kind: str, replies: list[Reply]) -> None:
        if not replies:
            return
        async with self._db.uow() as uow:
            await enqueue(
                uow,
                channel=CHANNEL,
                recipient=message.openid,
                replies=replies,
                idempotency_key=f"{kind}:{message.event_id}",
            )
            await uow.commit()
