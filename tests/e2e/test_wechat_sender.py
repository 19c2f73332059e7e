"""Pushes on WeChat through the outbox worker, against a fake WeChat server.

Within 48 hours of a person's last message and the window's quota: customer-service
messages. Outside: a template message for kinds of push that have one, else kept as
undeliverable. Every errcode is read; nothing counts as sent unless WeChat said 0.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.wechat.api import WeChatApi
from bot.wechat.render import wechat_texts
from bot.wechat.sender import WeChatSender
from bot.worker import OutboxWorker
from ffs_bot.config import Settings
from ffs_bot.db.tables import IdentityRow, OutboxRow, PersonRow, utcnow
from ffs_bot.db.uow import Database
from ffs_bot.messages import Attachment, Choice, Reply
from ffs_bot.outbox import enqueue
from ffs_bot.services.people import touch_identity
from ffs_bot.services.reply_window import reply_window
from tests.conftest import Backend
from tests.e2e.test_wechat_api import make_api
from tests.fakes.clock import WallClock
from tests.fakes.wechat_api import (
    CUSTOM_SEND,
    DROP,
    HTTP_ERROR,
    TEMPLATE_SEND,
    UPLOAD,
    FakeWeChatApi,
)

OPENID = "oFollower-0001"
TEMPLATES = {"broadcast": "tpl-broadcast", "booking": "tpl-booking"}


@dataclass
class WeChat:
    """The fake server, and a worker sending through the WeChat sender to it."""

    server: FakeWeChatApi
    api: WeChatApi
    worker: OutboxWorker
    clock: WallClock
    db: Database

    async def push(self, key: str, *replies: Reply, recipient: str = OPENID) -> None:
        async with self.db.uow() as uow:
            await enqueue(
                uow,
                channel="wechat",
                recipient=recipient,
                replies=list(replies) or [Reply(f"text of {key}")],
                idempotency_key=key,
            )
            await uow.commit()

    async def row(self, key: str) -> OutboxRow:
        async with self.db.uow() as uow:
            row = await uow.session.scalar(
                select(OutboxRow).where(OutboxRow.idempotency_key == key)
            )
        assert row is not None
        return row

    def texts(self) -> list[str]:
        sent = [c.body for c in self.server.of(CUSTOM_SEND, ok=True)]
        return [body["text"]["content"] for body in sent if body["msgtype"] == "text"]

    def templates(self) -> list[tuple[str, str]]:
        return [
            (c.body["template_id"], c.body["data"]["content"]["value"])
            for c in self.server.of(TEMPLATE_SEND, ok=True)
        ]


async def person_writes(db: Database, openid: str = OPENID) -> None:
    """The person sends a message: their window starts again now."""
    async with db.uow() as uow:
        await touch_identity(uow, "wechat", openid)
        await uow.session.execute(
            update(IdentityRow)
            .where(IdentityRow.external_user_id == openid)
            .values(last_seen_at=utcnow())
        )
        await uow.commit()


@pytest.fixture
async def wechat(backend: Backend) -> AsyncIterator[WeChat]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, WECHAT_WINDOW_QUOTA=3, WECHAT_TEMPLATES=TEMPLATES
    )
    clock = WallClock()
    async with FakeWeChatApi() as server, make_api(backend.db, server) as api:
        sender = WeChatSender(api, backend.db, settings, clock=clock)
        yield WeChat(server, api, OutboxWorker(backend.db, {"wechat": sender}), clock, backend.db)


PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)  # WeChat checks images; the fake counts bytes


async def statuses(wechat: WeChat, *keys: str) -> list[str]:
    return [(await wechat.row(key)).status for key in keys]


# --- Inside the window --------------------------------------------------------------------


async def test_inside_the_window_pushes_go_as_customer_service_texts_and_images(
    wechat: WeChat,
) -> None:
    await person_writes(wechat.db)
    chart = Reply("这是今年的图表", attachment=Attachment("chart.png", PNG, "image/png"))
    offer = Reply("有空位了！", (Choice("要", "ws:accept:1"), Choice("不要", "ws:decline:1")))
    book = Reply("名单", attachment=Attachment("roster.xlsx", b"PK..", "application/vnd.ms"))
    await wechat.push("report:1", chart)
    await wechat.push("booking:1", offer)
    await wechat.push("export:1", book)
    await wechat.worker.drain()

    assert await statuses(wechat, "report:1", "booking:1", "export:1") == ["sent"] * 3
    assert wechat.texts() == [
        "这是今年的图表",
        *wechat_texts([offer]),  # the choices numbered, to answer by number
        "名单",  # a workbook cannot go on WeChat: its caption does
    ]
    assert "1. 要" in wechat.texts()[1]
    (upload,) = wechat.server.of(UPLOAD, ok=True)
    assert upload.query["type"] == "image"
    assert upload.body == {"filename": "chart.png", "content_type": "image/png", "size": len(PNG)}
    sent = [c.body for c in wechat.server.of(CUSTOM_SEND, ok=True)]
    images = [body for body in sent if body["msgtype"] == "image"]
    assert images == [{"touser": OPENID, "msgtype": "image", "image": {"media_id": "media-2"}}]
    assert all(c.body["touser"] == OPENID for c in wechat.server.of(CUSTOM_SEND))
    # Chinese goes as UTF-8, the way WeChat reads it best.
    assert [body["msgtype"] for body in sent] == ["text", "image", "text", "text"]
    assert "有空位了".encode() in wechat.server.of(CUSTOM_SEND, ok=True)[2].raw
    assert wechat.templates() == []


async def test_over_the_quota_pushes_turn_to_templates_until_the_person_writes_again(
    wechat: WeChat,
) -> None:
    await person_writes(wechat.db)
    for n in range(1, 5):
        await wechat.push(f"broadcast:{n}")
    await wechat.push("tip:1")
    await wechat.worker.drain()

    # The quota is 3 customer-service messages per window; then templates where set.
    assert wechat.texts() == ["text of broadcast:1", "text of broadcast:2", "text of broadcast:3"]
    assert wechat.templates() == [("tpl-broadcast", "text of broadcast:4")]
    tip = await wechat.row("tip:1")
    assert tip.status == "failed"
    assert tip.last_error.startswith("undeliverable: the 3 messages allowed after the person's")
    assert "no template for 'tip' pushes" in tip.last_error

    await person_writes(wechat.db)
    await wechat.push("tip:2")
    await wechat.worker.drain()
    assert wechat.texts()[-1] == "text of tip:2"
    async with wechat.db.uow() as uow:
        window = await reply_window(uow, "wechat", OPENID)
    assert window is not None and window.sent_since == 1


async def test_after_48_hours_only_templates_reach_the_person(wechat: WeChat) -> None:
    await person_writes(wechat.db)
    wechat.clock.advance(hours=48, minutes=1)
    await wechat.push("booking:7", Reply("周六的课：9:00", (Choice("取消", "ws:cancel:7"),)))
    await wechat.push("tip:1")
    await wechat.push("broadcast:1")
    await wechat.worker.drain()

    assert wechat.server.of(CUSTOM_SEND) == []
    # The template carries the text; buttons only work in a chat, so they are left out.
    assert sorted(wechat.templates()) == [
        ("tpl-booking", "周六的课：9:00"),
        ("tpl-broadcast", "text of broadcast:1"),
    ]
    assert await statuses(wechat, "booking:7", "tip:1", "broadcast:1") == [
        "sent",
        "failed",
        "sent",
    ]
    assert "48-hour window" in (await wechat.row("tip:1")).last_error


async def test_nothing_is_queued_for_a_person_who_never_wrote(wechat: WeChat) -> None:
    await wechat.push("tip:9", recipient="oStranger")
    await wechat.worker.drain()
    async with wechat.db.uow() as uow:  # the outbox refuses accounts that never wrote
        assert await uow.session.scalar(select(OutboxRow.id)) is None
    assert wechat.server.calls == []  # not even a token


async def test_a_long_text_for_a_template_is_cut_short(wechat: WeChat) -> None:
    await person_writes(wechat.db)
    wechat.clock.advance(hours=49)
    await wechat.push("broadcast:1", Reply("长" * 500))
    await wechat.worker.drain()
    ((_template, content),) = wechat.templates()
    assert len(content) == 200 and content.endswith("…")


# --- WeChat's verdict ---------------------------------------------------------------------


@pytest.mark.parametrize("errcode", [45015, 45047])
async def test_wechat_saying_the_window_is_closed_turns_to_the_template(
    wechat: WeChat, errcode: int
) -> None:
    await person_writes(wechat.db)
    wechat.server.fail("/cgi-bin/message/custom/send", errcode, errcode)
    await wechat.push("broadcast:1")
    await wechat.push("tip:1")
    await wechat.worker.drain()
    assert await statuses(wechat, "broadcast:1", "tip:1") == ["sent", "failed"]
    assert wechat.templates() == [("tpl-broadcast", "text of broadcast:1")]
    assert wechat.texts() == []
    assert "undeliverable: WeChat says" in (await wechat.row("tip:1")).last_error


@pytest.mark.parametrize(
    ("failure", "status", "attempts", "error"),
    [
        (-1, "pending", 1, "errcode -1"),  # system busy
        (DROP, "pending", 1, "network"),
        (HTTP_ERROR, "pending", 1, "HTTP 502"),
        (45009, "pending", 0, "errcode 45009"),  # the day's quota: wait, no attempt used
        (43004, "stopped", 1, "blocked"),  # unfollowed
        (43019, "stopped", 1, "blocked"),  # on the account's blacklist
        (40003, "failed", 1, "errcode 40003"),  # not an openid of this account
        (45002, "failed", 1, "errcode 45002"),  # too long
        (99999, "pending", 1, "errcode 99999"),  # unknown: try again, up to the attempts
    ],
)
async def test_every_errcode_is_read_and_none_counts_as_sent(
    wechat: WeChat, failure: int | str, status: str, attempts: int, error: str
) -> None:
    await person_writes(wechat.db)
    wechat.server.fail(CUSTOM_SEND, failure)
    await wechat.push("booking:1")
    await wechat.worker.drain()
    row = await wechat.row("booking:1")
    assert (row.status, row.attempts, row.sent_at) == (status, attempts, None)
    assert error in row.last_error
    if failure == 45009:
        # Until WeChat's quotas start again at midnight in China (a day at most).
        wait = row.next_attempt_at - utcnow()
        assert timedelta(minutes=1) < wait <= timedelta(days=1, minutes=2)
    async with wechat.db.uow() as uow:
        person = await uow.session.scalar(select(PersonRow))
        window = await reply_window(uow, "wechat", OPENID)
    assert person is not None and (person.status == "stopped") == (status == "stopped")
    assert window is not None and window.sent_since == 0
    assert wechat.templates() == []


async def test_a_token_refused_after_renewal_is_tried_again_later(wechat: WeChat) -> None:
    await person_writes(wechat.db)
    wechat.server.fail(CUSTOM_SEND, 40001, 40001)
    await wechat.push("booking:1")
    await wechat.worker.drain()
    row = await wechat.row("booking:1")
    assert (row.status, row.sent_at) == ("pending", None)
    assert "errcode 40001" in row.last_error
    assert wechat.server.tokens_issued == 2


async def test_an_unfollowed_person_is_stopped_by_a_template_too(wechat: WeChat) -> None:
    await person_writes(wechat.db)
    wechat.clock.advance(hours=49)
    wechat.server.fail(TEMPLATE_SEND, 43004)
    await wechat.push("broadcast:1")
    await wechat.worker.drain()
    assert (await wechat.row("broadcast:1")).status == "stopped"
