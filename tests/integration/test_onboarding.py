"""First contact through the conversation engine, on a real database."""

from __future__ import annotations

from sqlalchemy import func, select

from ffs_bot.db.tables import ConsentRow, ConversationRow, PersonRow
from ffs_bot.privacy import PRIVACY_NOTICE_VERSION
from handlers.engine import ConversationEngine, build_router
from handlers.menu import JUMP_PREFIX
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories


async def test_worker_onboards_in_chinese_from_a_factory_link(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations, language_code="zh-CN")

    await chat.send("/start f-sz01")
    assert chat.payloads == ["lang:zh_Hans", "lang:en"]
    assert "请选择语言" in chat.text

    await chat.press("lang:zh_Hans")
    assert "深圳龙岗欢乐玩具厂" in chat.text
    assert "隐私说明" in chat.text
    assert chat.payloads == ["consent:yes", "consent:no", "consent:factory"]

    await chat.send("同意")
    assert "怎么称呼您" in chat.text

    await chat.send("  王姐  ")
    assert "欢迎您，王姐" in chat.text
    assert chat.payloads == ["summer", "ws", "tips", "children", "account", "language", "help"]

    async with backend.db.uow() as uow:
        person = await uow.session.scalar(select(PersonRow))
        consent = await uow.session.scalar(select(ConsentRow))
    assert person is not None and consent is not None
    assert person.display_name == "王姐"
    assert person.language == "zh_Hans"
    assert person.onboarded_at is not None
    assert consent.granted and consent.notice_version == PRIVACY_NOTICE_VERSION
    assert consent.person_id == person.id


async def test_english_hint_puts_english_first(backend: Backend) -> None:
    chat = Chat(backend.conversations, language_code="en-US")
    await chat.send("hi")
    assert chat.payloads == ["lang:en", "lang:zh_Hans"]
    assert chat.text.startswith("Hello!")


async def test_factory_found_by_part_of_its_name_and_picked_by_number(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.send("/start")
    await chat.send("English")
    assert "Which factory" in chat.text

    await chat.send("深圳")
    assert chat.payloads == ["fac:SZ01", "fac:SZ02"]
    await chat.send("2")
    assert "Bao'an Starlight Toys" in chat.text
    assert "consent:yes" in chat.payloads


async def test_full_width_code_typed_on_a_chinese_keyboard_matches(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.send("/start")
    await chat.press("lang:en")
    await chat.send("ｄｇ０１")
    assert "Chang'an Rainbow Toys" in chat.text


async def test_percent_in_a_search_matches_itself_not_everything(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.send("/start")
    await chat.press("lang:en")
    await chat.send("%")
    assert chat.payloads == ["fac:100%"]
    await chat.send("_")
    assert "No factory matches" in chat.text


async def test_unknown_factory_code_in_link_asks_for_the_factory(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations, language_code="en")
    await chat.send("/start f-NOPE")
    await chat.press("lang:en")
    assert "was not found" in chat.text
    assert "Which factory" in chat.text


async def test_declining_consent_keeps_nothing_but_the_refusal(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.send("/start f-SZ01")
    await chat.press("lang:en")
    await chat.press("consent:no")
    assert "have not kept your details" in chat.text

    async with backend.db.uow() as uow:
        person = await uow.session.scalar(select(PersonRow))
        consents = list(await uow.session.scalars(select(ConsentRow)))
        state = await uow.session.scalar(select(ConversationRow))
    assert person is not None and state is not None
    assert (person.display_name, person.factory_id, person.language) == (None, None, None)
    assert [(c.granted, c.notice_version) for c in consents] == [(False, PRIVACY_NOTICE_VERSION)]
    assert state.data == {}

    # Writing again starts over, and agreeing then works.
    await chat.send("hello again")
    assert "lang:zh_Hans" in chat.payloads


async def test_consent_pressed_twice_records_one_consent(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.send("/start f-SZ01")
    await chat.press("lang:en")
    await chat.press("consent:yes")
    await chat.press("consent:yes")
    assert "no longer active" in chat.text
    async with backend.db.uow() as uow:
        count = await uow.session.scalar(select(func.count()).select_from(ConsentRow))
    assert count == 1


async def test_restart_mid_conversation_continues_where_it_was(
    backend: Backend, translators
) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.send("/start f-SZ01")
    await chat.press("lang:en")
    # A new engine, as after a restart or on another replica: only the database is shared.
    chat.engine = ConversationEngine(backend.db.uow, translators, build_router())
    await chat.send("yes")
    assert "What should we call you" in chat.text


async def test_commands_work_at_every_step(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.send("/start")
    await chat.press("lang:en")

    await chat.send("help")
    assert "menu: the main menu" in chat.text
    assert "Which factory" in chat.text  # help keeps the step

    await chat.send("菜单")
    assert "finish signing up first" in chat.text

    await chat.send("/language")
    assert chat.payloads == ["lang:en", "lang:zh_Hans"]
    await chat.press("lang:zh_Hans")
    assert "您在哪家工厂上班" in chat.text  # back to the step, now in Chinese

    await chat.send("取消")
    assert "已停止" in chat.text
    await chat.send("SZ01")
    # After cancelling, the next message starts again at the first open question.
    assert "您在哪家工厂上班" in chat.text or "隐私说明" in chat.text


async def test_stale_button_changes_nothing(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.onboard()
    await chat.press("fac:SZ02")
    assert "no longer active" in chat.text
    await chat.press("account")
    assert "Longgang Happy Toys" in chat.text


async def test_unknown_text_gets_a_hint_and_the_menu(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.onboard()
    await chat.send("asdfgh")
    assert "didn't understand" in chat.text
    assert "account" in chat.payloads


async def test_a_menu_section_typed_by_name_opens_from_anywhere_in_either_language(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.onboard()
    await chat.press("account")
    await chat.send("育儿小贴士")  # the Chinese name, typed by an English reader
    # Nothing typed was dropped on the way: no word about leaving it.
    assert "Left what you were doing" not in chat.text
    assert chat.payloads == ["tips:more", "tips:setup", "menu"]
    await chat.send("  MY CHILDREN ")
    assert "not added any children" in chat.text
    # Text a step takes is that step's: a section's name at the child's name question does
    # not open the section, nor does it become the child's name (the person meant to leave).
    await chat.press("child:add")
    await chat.press("childnotice:yes")
    await chat.send("My details")
    assert chat.text.startswith("“My details” is a part of the menu, not a name."), chat.text
    await chat.send("Ming")
    assert "When was Ming born?" in chat.text
    # A push's button to a section leaves the child half added: said so.
    await chat.press(f"{JUMP_PREFIX}summer")
    assert chat.text.startswith("Left what you were doing; nothing unfinished was saved.\n\n")
    # Not signed up yet, a section's name is not a way round the sign-up.
    newcomer = Chat(backend.conversations, user="new")
    await newcomer.send("/start")
    await newcomer.press("lang:en")
    await newcomer.send("Summer space")
    assert "No factory matches that" in newcomer.text and "Which factory" not in newcomer.text


async def test_change_name_and_factory_from_my_details(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.onboard()
    await chat.press("account")
    await chat.press("account:name")
    await chat.send("<b>x</b>")
    assert "letters or Chinese characters" in chat.text
    await chat.send("Mary-Jane")
    assert "Name: Mary-Jane" in chat.text
    await chat.press("account:factory")
    await chat.send("DG01")
    assert "Your factory is now Chang'an Rainbow Toys" in chat.text


async def test_link_to_another_factory_asks_before_switching(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = Chat(backend.conversations)
    await chat.onboard()
    await chat.send("/start f-DG01")
    assert chat.payloads == ["switch:yes", "switch:no"]
    await chat.press("switch:no")
    await chat.press("account")
    assert "Longgang Happy Toys" in chat.text
    await chat.send("/start f-DG01")
    await chat.press("switch:yes")
    assert "Chang'an Rainbow Toys" in chat.text
