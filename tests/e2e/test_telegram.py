"""The Telegram channel end to end: real python-telegram-bot, in-memory Bot API, real DB."""

from __future__ import annotations

from sqlalchemy import select

from ffs_bot.db.tables import InboundUpdateRow, PersonRow
from ffs_bot.messages import Reply
from ffs_bot.model import RoleName
from ffs_bot.outbox import enqueue
from ffs_bot.services.staff import grant_role
from tests.conftest import Backend
from tests.helpers import seed_factories
from tests.integration.test_summer_chat import open_season
from tests.telegram_harness import TelegramHarness

WORKER = 5001


async def test_deep_link_onboarding_in_chinese_with_buttons(
    backend: Backend, telegram: TelegramHarness
) -> None:
    await seed_factories(backend.db)
    api = telegram.api
    await telegram.deliver(api.text(WORKER, "/start f-SZ01", "zh-hans"))
    first = api.sent_to(WORKER)[-1]
    first_id = api.last_message_id(WORKER)
    assert "请选择语言" in first["text"]
    assert api.buttons(first) == ["lang:zh_Hans", "lang:en"]
    assert first["parse_mode"] == "HTML"

    await telegram.deliver(api.press(WORKER, "lang:zh_Hans"))
    assert api.of("answerCallbackQuery")[-1]["callback_query_id"].startswith("cb")
    removed = api.of("editMessageReplyMarkup")[-1]
    assert removed["message_id"] == first_id
    assert "reply_markup" not in removed  # the pressed keyboard is taken away
    notice = api.sent_to(WORKER)[-1]
    assert "深圳龙岗欢乐玩具厂" in notice["text"] and "隐私说明" in notice["text"]

    await telegram.deliver(api.press(WORKER, "consent:yes"))
    await telegram.deliver(api.text(WORKER, "王姐"))
    assert "欢迎您，王姐" in api.sent_to(WORKER)[-1]["text"]
    async with backend.db.uow() as uow:
        person = await uow.session.scalar(select(PersonRow))
        assert person is not None and person.factory_id is not None


async def test_a_press_is_answered_unbuttoned_and_replied_to_at_once(
    backend: Backend, telegram: TelegramHarness
) -> None:
    await seed_factories(backend.db)
    api = telegram.api
    await telegram.deliver(api.text(WORKER, "/start f-SZ01", "zh-hans"))
    api.latency = 0.05
    await telegram.deliver(api.press(WORKER, "lang:zh_Hans"))
    assert [c.method for c in api.calls[-3:]] == [
        "answerCallbackQuery",
        "editMessageReplyMarkup",
        "sendMessage",
    ]
    assert api.most_in_flight == 3


async def test_english_app_gets_english_and_html_is_escaped(
    backend: Backend, telegram: TelegramHarness
) -> None:
    async with backend.db.uow() as uow:
        from ffs_bot.services.factories import FactoryInput, import_factories

        await import_factories(
            uow, [FactoryInput("AB1", "A&B厂", "A&B <Toys>", "", "Asia/Shanghai")]
        )
        await uow.commit()
    api = telegram.api
    await telegram.deliver(api.text(WORKER, "/start f-AB1", "en-US"))
    assert api.sent_to(WORKER)[-1]["text"].startswith("Hello!")
    await telegram.deliver(api.press(WORKER, "lang:en", language_code="en-US"))
    text = api.sent_to(WORKER)[-1]["text"]
    assert "A&amp;B &lt;Toys&gt;" in text
    assert "<Toys>" not in text


async def test_a_redelivered_update_is_answered_once(
    backend: Backend, telegram: TelegramHarness
) -> None:
    api = telegram.api
    update = api.text(WORKER, "/start", "zh-hans")
    await telegram.deliver(update)
    await telegram.deliver(update, update)
    assert len(api.sent_to(WORKER)) == 1


async def test_a_stale_press_gets_a_popup_not_a_message(
    backend: Backend, telegram: TelegramHarness
) -> None:
    await seed_factories(backend.db)
    api = telegram.api
    await telegram.deliver(api.text(WORKER, "/start f-SZ01"))
    await telegram.deliver(api.press(WORKER, "lang:zh_Hans"))
    sent = len(api.sent_to(WORKER))
    await telegram.deliver(api.press(WORKER, "lang:zh_Hans"))
    assert len(api.sent_to(WORKER)) == sent
    assert (
        api.of("answerCallbackQuery")[-1]["text"]
        == "这个按钮已经失效了。发送“菜单”可以看到能做的事。"
    )


async def test_blocking_stops_pushes_and_unblocking_resumes(
    backend: Backend, telegram: TelegramHarness
) -> None:
    api = telegram.api
    await telegram.deliver(api.text(WORKER, "/start"))
    await telegram.deliver(api.member(WORKER, "kicked"))
    async with backend.db.uow() as uow:
        person = await uow.session.scalar(select(PersonRow))
        assert person is not None and person.status == "stopped"
        added = await enqueue(
            uow,
            channel="telegram",
            recipient=str(WORKER),
            replies=[Reply("tip")],
            idempotency_key="tip-1",
        )
        await uow.commit()
    assert added
    async with backend.db.uow() as uow:
        from ffs_bot.db.tables import OutboxRow

        row = await uow.session.scalar(select(OutboxRow))
        assert row is not None and row.status == "stopped"
    await telegram.deliver(api.member(WORKER, "member"))
    async with backend.db.uow() as uow:
        person = await uow.session.scalar(select(PersonRow))
        assert person is not None and person.status == "active"


async def test_a_reply_refused_with_403_marks_the_person_stopped(
    backend: Backend, telegram: TelegramHarness
) -> None:
    api = telegram.api
    api.blocked.add(WORKER)
    await telegram.deliver(api.text(WORKER, "/start"))
    async with backend.db.uow() as uow:
        person = await uow.session.scalar(select(PersonRow))
        assert person is not None and person.status == "stopped"
        update = await uow.session.scalar(select(InboundUpdateRow))
        assert update is not None and update.done_at is not None
    # Writing again makes them active.
    api.blocked.clear()
    await telegram.deliver(api.text(WORKER, "菜单"))
    async with backend.db.uow() as uow:
        person = await uow.session.scalar(select(PersonRow))
        assert person is not None and person.status == "active"


async def test_updates_stored_but_not_answered_before_a_crash_are_answered_after_restart(
    backend: Backend, translators
) -> None:
    from tests.telegram_harness import start_harness

    first = await start_harness(backend, translators)
    api = first.api
    # Stored durably (as before confirming to Telegram), then the process "dies".
    await first.channel._scheduler.close(0)
    await first.channel.accept([api.text(WORKER, "/start"), api.text(WORKER, "菜单")])
    assert api.sent_to(WORKER) == []

    second = await start_harness(backend, translators)
    try:
        await second.channel.join()
        assert len(second.api.sent_to(WORKER)) == 2
        # A third start finds nothing left to do.
        third = await start_harness(backend, translators)
        await third.channel.join()
        assert third.api.sent_to(WORKER) == []
        await third.channel.stop()
    finally:
        await second.channel.stop()


async def test_the_command_menu_is_set_in_chinese_and_english(
    backend: Backend, telegram: TelegramHarness
) -> None:
    await telegram.channel.set_commands()
    menus = telegram.api.of("setMyCommands")
    assert [m.get("language_code") for m in menus] == [None, "en"]
    zh = {c["command"]: c["description"] for c in menus[0]["commands"]}
    en = {c["command"]: c["description"] for c in menus[1]["commands"]}
    assert zh["menu"] == "主菜单" and en["menu"] == "Main menu"
    assert set(zh) == {"start", "menu", "language", "help", "cancel"}


async def test_a_429_on_a_direct_answer_is_waited_out_and_sent_once(
    backend: Backend, telegram: TelegramHarness
) -> None:
    api = telegram.api
    api.fail_next("sendMessage", "429", 4)
    await telegram.deliver(api.text(WORKER, "/start"))
    assert len(api.sent_to(WORKER)) == 1
    assert telegram.limiter.retry_afters == 1
    assert telegram.clock.now >= 4


async def test_a_coordinator_gets_an_export_as_a_document(
    backend: Backend, telegram: TelegramHarness
) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    async with backend.db.uow() as uow:
        await grant_role(
            uow,
            channel="telegram",
            external_user_id=str(WORKER),
            role=RoleName.COORDINATOR,
            factory_codes=["SZ01"],
        )
        await uow.commit()
    api = telegram.api
    await telegram.deliver(api.text(WORKER, "/start f-SZ01", "en"))
    await telegram.deliver(api.press(WORKER, "lang:en"))
    await telegram.deliver(api.press(WORKER, "consent:yes"))
    await telegram.deliver(api.text(WORKER, "Coordinator Li"))
    await telegram.deliver(api.press(WORKER, "staff"))
    season = next(p for p in api.buttons(api.sent_to(WORKER)[-1]) if p.startswith("st:season:"))
    await telegram.deliver(api.press(WORKER, season))
    await telegram.deliver(api.press(WORKER, "st:export"))
    await telegram.deliver(api.press(WORKER, "st:x:registrations:xlsx"))
    (document,) = api.of("sendDocument")
    assert int(document["chat_id"]) == WORKER and document["caption"] == "0 rows"
    ((filename, content),) = document["_files"].values()
    assert filename.endswith(".xlsx") and content.startswith(b"PK")
    # The list of lists comes again after the file, with its buttons.
    assert "st:x:attendance:csv" in api.buttons(api.sent_to(WORKER)[-1])


async def test_refreshed_figures_replace_the_pressed_message(
    backend: Backend, telegram: TelegramHarness
) -> None:
    await seed_factories(backend.db)
    async with backend.db.uow() as uow:
        await grant_role(
            uow,
            channel="telegram",
            external_user_id=str(WORKER),
            role=RoleName.ADMIN,
            factory_codes=[],
        )
        await uow.commit()
    api = telegram.api
    await telegram.deliver(api.text(WORKER, "/start f-SZ01", "en"))
    await telegram.deliver(api.press(WORKER, "lang:en"))
    await telegram.deliver(api.press(WORKER, "consent:yes"))
    await telegram.deliver(api.text(WORKER, "Admin Li"))
    await telegram.deliver(api.press(WORKER, "staff"))
    await telegram.deliver(api.press(WORKER, "bc"))
    await telegram.deliver(api.press(WORKER, "bc:list"))
    listed = api.last_message_id(WORKER)
    sent_before = len(api.sent_to(WORKER))
    await telegram.deliver(api.press(WORKER, "bc:refresh", message_id=listed))
    edited = api.of("editMessageText")[-1]
    assert edited["message_id"] == listed and "No broadcasts yet." in edited["text"]
    assert len(api.sent_to(WORKER)) == sent_before  # no new message
