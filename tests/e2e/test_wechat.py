"""The WeChat endpoint end to end: signed and encrypted messages in, passive replies out."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.web import WECHAT_PATH, create_web_app
from bot.wechat.adapter import Keys
from bot.wechat.channel import SUCCESS, WeChatChannel
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.tables import (
    BookingRow,
    IdentityRow,
    OutboxRow,
    PersonRow,
    ProcessedInboundRow,
    RegistrationRow,
    SeasonRow,
)
from ffs_bot.db.uow import Database
from ffs_bot.i18n import Translator
from ffs_bot.messages import replies_from_json
from ffs_bot.model import RoleName
from ffs_bot.services.staff import grant_role
from handlers.engine import ConversationEngine, build_router
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories, typed_season
from tests.integration.test_children import add_in_chat
from tests.integration.test_summer_chat import SEASON, next_summer, open_season
from tests.integration.test_workshop_chat import plan
from tests.wechat_harness import (
    AES_KEY,
    APP_ID,
    OLD_AES_KEY,
    TOKEN,
    Answer,
    WeChatServer,
    event_xml,
    option,
    sign,
    text_xml,
)


def make_channel(backend: Backend, translators: dict[str, Translator], **kwargs) -> WeChatChannel:
    aes_keys = kwargs.pop("aes_keys", (AES_KEY,))
    keys = Keys(TOKEN, APP_ID, aes_keys, compatible=kwargs.pop("compatible", False))
    return WeChatChannel(keys, backend.conversations, backend.db, translators, **kwargs)


@pytest.fixture
async def channel(backend: Backend, translators: dict[str, Translator]) -> WeChatChannel:
    return make_channel(backend, translators)


@asynccontextmanager
async def serving(backend: Backend, channel: WeChatChannel) -> AsyncIterator[TestClient]:
    """Our web application answering `channel`'s endpoint over HTTP."""
    async with TestClient(TestServer(create_web_app(backend.engine, wechat=channel))) as client:
        yield client
    await channel.stop()


@asynccontextmanager
async def replica(
    backend: Backend, translators: dict[str, Translator], **kwargs
) -> AsyncIterator[TestClient]:
    """Another process's endpoint on the same database: its own engine and connections."""
    engine = create_engine(backend.url)
    db = Database(create_session_factory(engine))
    conversations = ConversationEngine(db.uow, translators, build_router(), backend.notify)
    own = Backend(backend.name, backend.url, engine, db, conversations, backend.notify)
    try:
        async with serving(own, make_channel(own, translators, **kwargs)) as client:
            yield client
    finally:
        await engine.dispose()


@pytest.fixture
async def client(backend: Backend, channel: WeChatChannel) -> AsyncIterator[TestClient]:
    async with serving(backend, channel) as client:
        yield client


@pytest.fixture
async def plain_client(
    backend: Backend, translators: dict[str, Translator]
) -> AsyncIterator[TestClient]:
    """An endpoint with no AES key: plaintext mode, as an account not in safe mode has it."""
    async with serving(backend, make_channel(backend, translators, aes_keys=())) as client:
        yield client


@pytest.fixture
def wechat(client: TestClient) -> WeChatServer:
    return WeChatServer(client)


async def count(backend: Backend, table) -> int:
    async with backend.db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(table)) or 0)


async def outbox(backend: Backend) -> list[OutboxRow]:
    async with backend.db.uow() as uow:
        return list(await uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


async def test_server_verification_echoes_only_with_the_right_signature(
    client: TestClient, wechat: WeChatServer
) -> None:
    good = wechat.query(echostr="echo-123")
    response = await client.get(WECHAT_PATH, params=good)
    assert response.status == 200 and await response.text() == "echo-123"
    for bad in (
        {**good, "signature": "0" * 40},
        {k: v for k, v in good.items() if k != "signature"},
        {**good, "timestamp": "1000"},  # signed long ago: a replay
        {},
    ):
        response = await client.get(WECHAT_PATH, params=bad)
        assert response.status == 403 and "echo" not in await response.text()


async def test_a_signed_server_check_url_answers_only_its_own_echostr(
    client: TestClient, plain_client: TestClient
) -> None:
    wechat = WeChatServer(client)
    check = wechat.query(echostr="echo-1")
    for _ in range(2):  # asked again as it was: the same answer
        response = await client.get(WECHAT_PATH, params=check)
        assert response.status == 200 and await response.text() == "echo-1"
    response = await client.get(WECHAT_PATH, params={**check, "echostr": "reflect-me"})
    assert response.status == 403 and "reflect-me" not in await response.text()
    # Nor can a check's URL carry a message, even where plaintext is read.
    plain = WeChatServer(plain_client, aes_key=None)
    check = plain.query(echostr="echo-2")
    assert (await plain_client.get(WECHAT_PATH, params=check)).status == 200
    message = text_xml("o-someone", "你好", 3, plain.now())
    assert (await plain.post(check, message)).status == 403


async def test_a_signed_url_carries_one_body_whichever_replica_it_reaches(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    await seed_factories(backend.db)
    # Plaintext mode: the URL's signature is all there is, and it does not cover the body.
    async with (
        replica(backend, translators, aes_keys=()) as one,
        replica(backend, translators, aes_keys=()) as two,
    ):
        first, second = WeChatServer(one, aes_key=None), WeChatServer(two, aes_key=None)
        query, body = first.request(event_xml("o-mum", "subscribe", "", first.now()))
        answer = await first.post(query, body)
        assert answer.status == 200 and "1. 中文" in (answer.text or "")
        # WeChat's retry, reaching the other replica: the same answer, nothing done twice.
        retry = await second.post(query, body)
        assert (retry.status, retry.text) == (200, answer.text)
        # The same signed URL with any other body is refused by either replica.
        for server, xml in (
            (second, text_xml("o-mum", option(answer.text or "", "中文"), 7, first.now())),
            (first, event_xml("o-someone-else", "subscribe", "", first.now())),
            (second, body.replace("o-mum", "o-mun")),
        ):
            refused = await server.post(query, xml)
            assert (refused.status, refused.text) == (403, None)
    async with backend.db.uow() as uow:
        identities = list(await uow.session.scalars(select(IdentityRow.external_user_id)))
        handled = await uow.session.scalar(select(func.count()).select_from(ProcessedInboundRow))
        language = await uow.session.scalar(select(PersonRow.language))
    assert (identities, handled) == (["o-mum"], 1)
    assert language != "zh_Hans"  # the forged choice of a language did nothing


async def test_a_bad_signature_is_refused_and_nothing_is_processed(
    backend: Backend, plain_client: TestClient, wechat: WeChatServer
) -> None:
    plain = WeChatServer(plain_client, aes_key=None)
    xml = text_xml("o-intruder", "你好", 1, plain.now())
    query = plain.query()
    for bad in ({**query, "signature": sign("not-the-token", "1", "2")}, {}):
        answer = await plain.post_xml(xml, query=bad)
        assert answer.status == 403
    # Encrypted, with a message signature that does not match the content.
    sealed = wechat.query("something-else")
    assert (await wechat.post_xml(xml, query=sealed)).status == 403
    assert await count(backend, IdentityRow) == 0


async def test_with_an_aes_key_plaintext_is_refused_and_reveals_nothing(
    backend: Backend, client: TestClient, wechat: WeChatServer
) -> None:
    await seed_factories(backend.db)
    mum = Chat(backend.conversations, "o-mum", channel="wechat")
    await mum.onboard()
    await add_in_chat(mum, "Lily", "2021-05")
    for press in ("cv:health", "health:yes"):
        await mum.press(press)
    await mum.send("Allergic to eggs")
    assert "Allergic to eggs" in mum.text
    # Someone holding one genuine signed URL strips its safe-mode parts and writes as mum.
    plain = WeChatServer(client, aes_key=None)
    answers = []
    for xml in (
        event_xml("o-mum", "CLICK", "go:children", plain.now()),
        text_xml("o-mum", "1", 5, plain.now()),
    ):
        genuine = wechat.query("a-sealed-message")
        stripped = {k: v for k, v in genuine.items() if k not in ("encrypt_type", "msg_signature")}
        answers.append(await plain.post(stripped, xml))
    assert not any("Allergic" in a.body or "Lily" in a.body for a in answers)
    assert [a.status for a in answers] == [403, 403]


async def test_compatible_mode_when_allowed_reads_only_the_sealed_copy(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    await seed_factories(backend.db)
    real = event_xml("o-real", "subscribe", "", int(time.time()))
    # What the plaintext copy claims: someone else.
    claimed = event_xml("o-victim", "subscribe", "qrscene_f-DG02", int(time.time()))
    async with serving(backend, make_channel(backend, translators)) as client:
        wechat = WeChatServer(client)
        # Off by default: a body with a plaintext copy is refused.
        assert (await wechat.post(*wechat.request(real, beside=claimed))).status == 403
    channel = make_channel(backend, translators, compatible=True)
    async with serving(backend, channel) as client:
        wechat = WeChatServer(client)
        answer = await wechat.post(*wechat.request(real, beside=claimed))
        assert answer.status == 200 and answer.sealed and "1. 中文" in (answer.text or "")
        # Plaintext alone is still refused.
        plain = WeChatServer(client, aes_key=None)
        assert (await plain.post_xml(claimed)).status == 403
    async with backend.db.uow() as uow:
        assert list(await uow.session.scalars(select(IdentityRow.external_user_id))) == ["o-real"]


@pytest.mark.parametrize("mode", ["plaintext", "safe"])
async def test_onboarding_registration_and_a_booking_in_chinese(
    backend: Backend, client: TestClient, plain_client: TestClient, mode: str
) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    await plan(backend, capacity=5)
    safe = mode == "safe"
    wechat = WeChatServer(client) if safe else WeChatServer(plain_client, aes_key=None)
    me = "o-worker-1"
    # Scanning the factory's QR code follows the account and picks the factory.
    answer = await wechat.event(me, "subscribe", "qrscene_f-SZ01")
    assert answer.status == 200 and answer.sealed == (mode == "safe")
    assert answer.text is not None
    answer = await wechat.text(me, option(answer.text, "中文"))
    assert "隐私" in (answer.text or "")
    answer = await wechat.text(me, option(answer.text or "", "同意"))
    answer = await wechat.text(me, "王小明")
    menu = answer.text or ""
    assert "王小明" in menu and "1. " in menu
    # Register a child for the summer space, typing numbers and labels.
    answer = await wechat.text(me, option(menu, "我的孩子"))
    answer = await wechat.text(me, option(answer.text or "", "添加"))
    answer = await wechat.text(me, option(answer.text or "", "同意"))
    answer = await wechat.text(me, "小丽")
    answer = await wechat.text(me, "2019-05")
    assert "3. 不想说" in (answer.text or "")
    answer = await wechat.text(me, "不想说")  # the label typed out works as well as its number
    answer = await wechat.text(me, option(answer.text or "", "爸爸"))
    assert "已保存：小丽" in (answer.text or ""), answer.text
    answer = await wechat.text(me, "菜单")
    answer = await wechat.text(me, option(answer.text or "", "暑期"))
    answer = await wechat.text(me, option(answer.text or "", "报名"))
    answer = await wechat.text(me, option(answer.text or "", "小丽"))
    answer = await wechat.text(me, option(answer.text or "", "整个"))
    days = next_summer(*SEASON, "zh_Hans")
    assert f"小丽有名额了，时间：{days}" in (answer.text or ""), answer.text
    # A workshop seat, opened from the account's own menu.
    answer = await wechat.event(me, "CLICK", "go:ws")
    answer = await wechat.text(me, option(answer.text or "", "Calling home"))
    answer = await wechat.text(me, option(answer.text or "", "预约座位"))
    assert "报名成功" in (answer.text or ""), answer.text
    assert await count(backend, RegistrationRow) == 1
    assert await count(backend, BookingRow) == 1


async def test_retries_have_one_effect_and_get_the_same_answer(
    backend: Backend, wechat: WeChatServer
) -> None:
    await seed_factories(backend.db)
    me = "o-retry"
    at = wechat.now() - 3
    first = await wechat.event(me, "subscribe", "qrscene_f-SZ01", at=at)
    again = [await wechat.event(me, "subscribe", "qrscene_f-SZ01", at=at) for _ in range(2)]
    assert [a.text for a in again] == [first.text] * 2
    language = option(first.text or "", "中文")
    answers = [await wechat.text(me, language, msg_id=42) for _ in range(3)]
    assert len({a.text for a in answers}) == 1 and "隐私" in (answers[0].text or "")
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(PersonRow)) == 1
        assert await uow.session.scalar(select(PersonRow.language)) == "zh_Hans"


async def test_two_menu_buttons_pressed_in_one_second_are_both_answered(
    backend: Backend, wechat: WeChatServer
) -> None:
    await seed_factories(backend.db)
    await Chat(backend.conversations, "o-quick", channel="wechat").onboard(language="zh_Hans")
    at = wechat.now()
    workshops = await wechat.event("o-quick", "CLICK", "go:ws", at=at)
    tips = await wechat.event("o-quick", "CLICK", "go:tips", at=at)
    again = await wechat.event("o-quick", "CLICK", "go:tips", at=at)  # WeChat's retry
    assert workshops.text and tips.text and workshops.text != tips.text
    assert "育儿小贴士" in tips.text and again.text == tips.text


async def test_an_old_key_still_opens_messages_during_a_key_change(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    await seed_factories(backend.db)
    channel = make_channel(backend, translators, aes_keys=(AES_KEY, OLD_AES_KEY))
    app = create_web_app(backend.engine, wechat=channel)
    async with TestClient(TestServer(app)) as client:
        for key in (OLD_AES_KEY, AES_KEY):
            answer = await WeChatServer(client, aes_key=key).event(f"o-{key[:3]}", "subscribe")
            # Sealed with the key the message came with: the harness opened it with that key.
            assert answer.status == 200 and answer.sealed and answer.text
        unknown = "0123456789" * 4 + "abc"
        answer = await WeChatServer(client, aes_key=unknown).event("o-new", "subscribe")
        assert answer.status == 403
    assert await count(backend, IdentityRow) == 2


async def test_unsubscribe_stops_pushes_and_a_new_message_starts_them_again(
    backend: Backend, wechat: WeChatServer
) -> None:
    await seed_factories(backend.db)
    await wechat.event("o-leaver", "subscribe", at=wechat.now() - 60)
    answer = await wechat.event("o-leaver", "unsubscribe", at=wechat.now() - 30)
    assert answer.status == 200 and answer.body == SUCCESS
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(PersonRow.status)) == "stopped"
    await wechat.event("o-leaver", "subscribe")
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(PersonRow.status)) == "active"


async def test_a_slow_step_says_success_and_the_answer_follows_through_the_outbox(
    backend: Backend, translators: dict[str, Translator], monkeypatch
) -> None:
    await seed_factories(backend.db)
    channel = make_channel(backend, translators, reply_seconds=0.05)
    real = backend.conversations.handle
    release = asyncio.Event()

    async def slow(inbound):
        await release.wait()
        return await real(inbound)

    monkeypatch.setattr(backend.conversations, "handle", slow)
    async with TestClient(TestServer(create_web_app(backend.engine, wechat=channel))) as client:
        answer = await WeChatServer(client).event("o-slow", "subscribe")
        assert answer.status == 200 and answer.body == SUCCESS
        release.set()
        await channel.stop()
    (late,) = await outbox(backend)
    assert late.channel == "wechat" and late.recipient == "o-slow"
    assert late.idempotency_key.startswith("wx-late:o-slow:")
    (reply,) = replies_from_json(late.content)
    assert "1. 中文" in reply.text and not reply.choices


async def test_malformed_and_oversized_bodies_are_refused(
    backend: Backend, plain_client: TestClient
) -> None:
    plain = WeChatServer(plain_client, aes_key=None)
    assert (await plain.post_xml("<xml><unclosed>")).status == 400
    assert (await plain.post_xml("<xml><MsgType>text</MsgType></xml>")).status == 400
    huge = text_xml("o-big", "字" * 40_000, 7, plain.now())
    assert (await plain.post_xml(huge)).status == 413
    assert await count(backend, IdentityRow) == 0


async def test_pictures_and_voice_get_a_request_for_text(
    backend: Backend, plain_client: TestClient
) -> None:
    await seed_factories(backend.db)
    plain = WeChatServer(plain_client, aes_key=None)
    await plain.event("o-pic", "subscribe")
    picture = text_xml("o-pic", "", 99, plain.now()).replace(
        "<MsgType>text</MsgType>", "<MsgType>image</MsgType>"
    )
    answer = await plain.post_xml(picture)
    assert answer.status == 200 and answer.text


async def test_menu_links_and_unknown_events_need_no_answer(
    backend: Backend, plain_client: TestClient
) -> None:
    plain = WeChatServer(plain_client, aes_key=None)
    answer = await plain.post_xml(event_xml("o-view", "VIEW", "https://example.org", plain.now()))
    assert answer.status == 200 and answer.body == SUCCESS


async def coordinator_on_wechat(
    backend: Backend, client: TestClient
) -> tuple[WeChatServer, Answer]:
    """SZ01's coordinator, signed up in Chinese on WeChat, at the staff screen."""
    async with backend.db.uow() as uow:
        await grant_role(
            uow,
            channel="wechat",
            external_user_id="o-coord",
            role=RoleName.COORDINATOR,
            factory_codes=["SZ01"],
        )
        await uow.commit()
    wechat = WeChatServer(client)
    answer = await wechat.event("o-coord", "subscribe", "qrscene_f-SZ01")
    answer = await wechat.text("o-coord", option(answer.text or "", "中文"))
    answer = await wechat.text("o-coord", option(answer.text or "", "同意"))
    answer = await wechat.text("o-coord", "李老师")
    answer = await wechat.text("o-coord", option(answer.text or "", "工作人员菜单"))
    return wechat, answer


async def test_a_file_wechat_cannot_carry_is_explained_in_the_readers_language(
    backend: Backend, client: TestClient
) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    wechat, answer = await coordinator_on_wechat(backend, client)
    if "导出成文件" not in (answer.text or ""):  # one season: it opens at once, else pick it
        answer = await wechat.text("o-coord", "1")
    answer = await wechat.text("o-coord", option(answer.text or "", "导出成文件"))
    answer = await wechat.text("o-coord", option(answer.text or "", "报名名单（Excel）"))
    assert "微信发不了文件 registrations-SZ01-" in (answer.text or ""), answer.text
    assert "0行" in (answer.text or "").replace(" ", "")


async def test_a_number_typed_at_a_question_asking_for_one_is_that_number(
    backend: Backend, client: TestClient
) -> None:
    await seed_factories(backend.db)
    wechat, answer = await coordinator_on_wechat(backend, client)
    answer = await wechat.text("o-coord", option(answer.text or "", "开一期新的托管"))
    days, deadline = typed_season()
    answer = await wechat.text("o-coord", days)
    answer = await wechat.text("o-coord", "3-12")
    assert (answer.text or "").endswith("请输入数字，比如30。\n【取消】"), answer.text
    answer = await wechat.text("o-coord", "1")
    # A typed question: its Cancel is a word to type, not a number.
    assert "报名最后一天" in (answer.text or "") and "【取消】" in (answer.text or "")
    for answer_text in (deadline, "-", "-"):
        answer = await wechat.text("o-coord", answer_text)
    async with backend.db.uow() as uow:
        assert await uow.session.scalar(select(SeasonRow.capacity)) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("FromUserName", "o" * 200),  # no openid is this long: no column holds it
        ("FromUserName", "o-a:b\u0000"),
        ("MsgId", str(10**40)),
        ("MsgId", "-5"),
        ("CreateTime", str(10**30)),
        ("CreateTime", "1e400"),
    ],
)
async def test_fields_no_wechat_message_has_get_400_not_an_error(
    backend: Backend, plain_client: TestClient, field: str, value: str
) -> None:
    plain = WeChatServer(plain_client, aes_key=None)
    xml = text_xml("o-odd", "菜单", 77, plain.now())
    xml = re.sub(f"<{field}>[^<]*</{field}>", f"<{field}>{value}</{field}>", xml)
    assert value in xml
    answer = await plain.post_xml(xml)
    assert answer.status == 400, answer.body
    assert await count(backend, IdentityRow) == 0
