"""Hostile text at every free-text prompt: no crash, no stack trace, a translated answer.

The prompts that take free text are the factory question and the name question of first
contact, and "change my name" in my details. Each gets the 515 strings of the Big List of
Naughty Strings, over-long text, empty text and emoji, on SQLite and (when configured)
PostgreSQL.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from sqlalchemy import select

from ffs_bot.db.tables import ConversationRow, IdentityRow, PersonRow
from ffs_bot.db.uow import Database
from ffs_bot.errors import InvalidInput
from ffs_bot.i18n import Translator
from ffs_bot.services.people import MAX_DISPLAY_NAME, clean_display_name
from handlers.engine import FAILURE
from handlers.text import MAX_INPUT_CHARS, clean_text
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories

FACTORY_STEP, CONSENT_STEP, NAME_STEP = "onb.factory", "onb.consent", "onb.name"
CHANGE_NAME_STEP, ACCOUNT_STEP, MAIN_STEP = "account.name", "account", "main"

# Message ids (the English text) of what the prompts say.
FACTORY_PROMPT = (
    "Which factory do you work at? Type the factory code from the poster (like SZ01) or part "
    "of the factory's name."
)
NO_FACTORY = (
    "No factory matches that. Check the code on the poster (like SZ01), or ask your factory's "
    "coordinator."
)
NAME_PROMPT = "What should we call you? For example: 李姐 or Ah Ming (up to {limit} characters)."
CHANGE_NAME_PROMPT = "What should we call you? (up to {limit} characters)"
NAME_RULE = (
    "Please type a name in letters or Chinese characters (up to {limit}), for example 小明 or "
    "Ah Ming."
)
ONLY_TEXT = "I can only read text. Please type your answer or tap a button."
TOO_LONG = "That message is too long. Please keep it under {limit} characters."
SAVED = "Saved."
WELCOME = "Welcome, {name}! You're all set."

PROMPTS = {"factory": FACTORY_STEP, "name": NAME_STEP, "change_name": CHANGE_NAME_STEP}
PROMPT_TEXTS = {
    FACTORY_STEP: FACTORY_PROMPT,
    NAME_STEP: NAME_PROMPT,
    CHANGE_NAME_STEP: CHANGE_NAME_PROMPT,
}
LANGUAGES = ("zh_Hans", "en")
ORIGINAL_NAME = "王姐"
HAN = re.compile(r"[\u4e00-\u9fff]")
FAILURE_WORDS = ("something went wrong", "系统出了点问题", "Traceback")

EMOJI_ONLY = ["😀", "😀😀😀", "👨‍👩‍👧‍👦", "🇨🇳", "❤️", "👍🏽", "🙂 🙃", "🐻‍❄️", "*️⃣"]
CONTROL_AND_SURROGATES = [
    "\x00",
    "\x00" * 50,
    "王\x00姐",
    "SZ\x0001",
    "\ud800",
    "\udfff\ud800",
    "阿\ud83d明",
    "\x1b[31m红\x1b[0m",
    "\u202e\u202d\u200b",
    "\ufeff",
    "\uffff\U0010ffff",
]
BLANK = ["", " ", "\n\t  \n", "\u3000\u3000", "\x00\x01\x7f\x85", None]


def say(translators: dict[str, Translator], language: str, msgid: str, **params: object) -> str:
    """What the bot says for `msgid` in `language`; Chinese must really be translated."""
    params.setdefault("limit", MAX_DISPLAY_NAME)
    text = translators[language]._(msgid, **params)
    if language == "zh_Hans":
        assert HAN.search(text), f"not translated into Chinese: {msgid!r}"
    return text


def valid_name(text: str) -> str | None:
    """The name the rules make of `text` as the engine sees it, or None if it is refused."""
    try:
        return clean_display_name(clean_text(text))
    except InvalidInput:
        return None


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", clean_text(text)).strip().casefold()


def assert_graceful(chat: Chat, sent: str | None, language: str, failure: str) -> None:
    """At least one reply, no failure text or stack trace, and Chinese when Chinese is set."""
    assert chat.last, f"no reply to {sent!r}"
    text = chat.text
    # Our own words, not an echo of what was sent (a name, say).
    own = text
    for echo in {sent or "", clean_text(sent or ""), valid_name(sent or "") or ""} - {""}:
        own = own.replace(echo, "")
    for word in (failure, *FAILURE_WORDS):
        assert word not in own, f"{word!r} in the answer to {sent!r}: {text!r}"
    if language == "zh_Hans":
        assert HAN.search(own), f"answer to {sent!r} is not in Chinese: {text!r}"


async def stored(db: Database, user: str) -> tuple[str, str | None]:
    """The conversation step and display name stored for a console user."""
    async with db.uow() as uow:
        row = (
            await uow.session.execute(
                select(ConversationRow.step, PersonRow.display_name)
                .join(IdentityRow, IdentityRow.id == ConversationRow.identity_id)
                .join(PersonRow, PersonRow.id == IdentityRow.person_id)
                .where(IdentityRow.channel == "console", IdentityRow.external_user_id == user)
            )
        ).one()
    return row.step, row.display_name


async def open_prompt(backend: Backend, prompt: str, language: str, user: str) -> Chat:
    """A person at the free-text prompt `prompt` ("factory", "name" or "change_name")."""
    chat = Chat(backend.conversations, user=user)
    if prompt == "factory":
        await chat.send("/start")
        await chat.press(f"lang:{language}")
    elif prompt == "name":
        await chat.send("/start f-SZ01")
        await chat.press(f"lang:{language}")
        await chat.press("consent:yes")
    else:
        await chat.onboard(language=language, name=ORIGINAL_NAME)
        await chat.press("account")
        await chat.press("account:name")
    assert await stored(backend.db, user) == (
        PROMPTS[prompt],
        ORIGINAL_NAME if prompt == "change_name" else None,
    )
    return chat


async def assert_still_usable(backend: Backend, chat: Chat, prompt: str) -> None:
    """A sensible answer at the prompt still moves the conversation on."""
    if prompt == "factory":
        await chat.send("sz01")
        assert "consent:yes" in chat.payloads, chat.text
        assert (await stored(backend.db, chat.user))[0] == CONSENT_STEP
    elif prompt == "name":
        await chat.send("Ah Ming")
        assert await stored(backend.db, chat.user) == (MAIN_STEP, "Ah Ming")
    else:
        await chat.send("Ah Ming")
        assert await stored(backend.db, chat.user) == (ACCOUNT_STEP, "Ah Ming")


# --- The Big List of Naughty Strings at each prompt ---------------------------------------
#
# Each string is checked by its answer (about 5 ms a message); the database is read only
# when the answer says the conversation moved on, and at the end, to keep the file fast.


async def test_factory_prompt_answers_every_naughty_string_in_chinese(
    backend: Backend, translators: dict[str, Translator], naughty_strings: list[str]
) -> None:
    await seed_factories(backend.db)
    language = "zh_Hans"
    failure = translators[language]._(FAILURE)
    prompt = say(translators, language, FACTORY_PROMPT)
    no_factory = say(translators, language, NO_FACTORY)
    chat = await open_prompt(backend, "factory", language, "factory-blns")
    moved_on: list[str] = []
    for text in naughty_strings:
        await chat.send(text)
        assert_graceful(chat, text, language, failure)
        if "consent:yes" not in chat.payloads:
            # Told in one line that nothing matches, or offered the factories that match.
            assert (
                no_factory in chat.text
                or say(translators, language, ONLY_TEXT) in chat.text
                or any(p.startswith("fac:") for p in chat.payloads)
            ), (text, chat.text)
            assert prompt not in chat.text, "a wrong answer gets one line, not the question"
            continue
        # Only a number picking one of the factories just offered may move on.
        assert fold(text).isdecimal(), (text, chat.text)
        assert (await stored(backend.db, chat.user))[0] == CONSENT_STEP
        moved_on.append(text)
        await chat.press("consent:factory")
        assert prompt in chat.text
    assert len(moved_on) < 10, moved_on
    assert (await stored(backend.db, chat.user))[0] == FACTORY_STEP
    await assert_still_usable(backend, chat, "factory")


async def test_name_prompt_answers_every_naughty_string_in_english(
    backend: Backend, translators: dict[str, Translator], naughty_strings: list[str]
) -> None:
    await seed_factories(backend.db)
    language = "en"
    failure = translators[language]._(FAILURE)
    prompt = say(translators, language, NAME_PROMPT)
    rule = say(translators, language, NAME_RULE)
    only_text = say(translators, language, ONLY_TEXT)
    people = 0
    chat = await open_prompt(backend, "name", language, f"name-{people}")
    accepted: list[str] = []
    for text in naughty_strings:
        await chat.send(text)
        assert_graceful(chat, text, language, failure)
        expected = valid_name(text)
        if WELCOME.split(",")[0] not in chat.text:
            # Refused: one line says what a name may be; the question is not asked twice.
            assert expected is None, f"{text!r} is a valid name but was refused"
            assert (only_text if not clean_text(text) else rule) in chat.text, (text, chat.text)
            assert prompt not in chat.text
            continue
        # A valid name finishes first contact: check it, then start again with a new person.
        assert expected is not None, (text, chat.text)
        assert say(translators, language, WELCOME, name=expected) in chat.text
        assert await stored(backend.db, chat.user) == (MAIN_STEP, expected), text
        accepted.append(text)
        people += 1
        chat = await open_prompt(backend, "name", language, f"name-{people}")
    assert accepted, "no string of the list was taken as a name"
    assert len(accepted) < len(naughty_strings) / 2, "names are hardly checked"
    assert await stored(backend.db, chat.user) == (NAME_STEP, None)
    await assert_still_usable(backend, chat, "name")


async def test_change_name_prompt_answers_every_naughty_string_and_keeps_a_valid_name(
    backend: Backend, translators: dict[str, Translator], naughty_strings: list[str]
) -> None:
    await seed_factories(backend.db)
    language = "zh_Hans"
    failure = translators[language]._(FAILURE)
    prompt = say(translators, language, CHANGE_NAME_PROMPT)
    rule = say(translators, language, NAME_RULE)
    only_text = say(translators, language, ONLY_TEXT)
    saved = say(translators, language, SAVED)
    chat = await open_prompt(backend, "change_name", language, "rename-blns")
    current = ORIGINAL_NAME
    renamed = 0
    for text in naughty_strings:
        await chat.send(text)
        assert_graceful(chat, text, language, failure)
        if saved not in chat.text:
            # Refused: one line says what a name may be; the question is not asked twice.
            # A typed "1" too: it is not the prompt's Cancel button, and not a name.
            assert valid_name(text) is None, f"{text!r} is a valid name but was refused"
            assert (only_text if not clean_text(text) else rule) in chat.text, (text, chat.text)
            assert prompt not in chat.text
            continue
        step, name = await stored(backend.db, chat.user)
        assert step == ACCOUNT_STEP, (text, step, chat.text)
        assert name == valid_name(text), (text, name)
        assert name is not None
        current = name
        renamed += 1
        await chat.press("account:name")
        assert prompt in chat.text
    assert renamed, "no string of the list was taken as a name"
    # Nothing refused overwrote the last name that was taken, and that name is a valid one.
    assert await stored(backend.db, chat.user) == (CHANGE_NAME_STEP, current)
    assert clean_display_name(current) == current
    await assert_still_usable(backend, chat, "change_name")


# --- Over-long, empty, emoji-only and broken text, in both languages ----------------------


@pytest.mark.parametrize("prompt", PROMPTS)
async def test_text_over_4000_characters_is_refused_and_the_step_kept(
    backend: Backend, translators: dict[str, Translator], prompt: str
) -> None:
    await seed_factories(backend.db)
    for language in LANGUAGES:
        chat = await open_prompt(backend, prompt, language, f"long-{language}")
        before = await stored(backend.db, chat.user)
        too_long = say(translators, language, TOO_LONG, limit=MAX_INPUT_CHARS)
        asked = say(translators, language, PROMPT_TEXTS[PROMPTS[prompt]])
        for text in ("王" * 4001, "Ah Ming " * 600, "SZ01" * 25_000, "😀" * 5000):
            await chat.send(text)
            assert_graceful(chat, None, language, translators[language]._(FAILURE))
            assert too_long in chat.text
            assert asked not in chat.text
            assert len(chat.text) < 1000, "the answer must not echo the text"
            assert await stored(backend.db, chat.user) == before
        await assert_still_usable(backend, chat, prompt)


@pytest.mark.parametrize("prompt", PROMPTS)
async def test_empty_blank_and_missing_text_get_the_only_text_answer(
    backend: Backend, translators: dict[str, Translator], prompt: str
) -> None:
    await seed_factories(backend.db)
    for language in LANGUAGES:
        chat = await open_prompt(backend, prompt, language, f"blank-{language}")
        before = await stored(backend.db, chat.user)
        only_text = say(translators, language, ONLY_TEXT)
        asked = say(translators, language, PROMPT_TEXTS[PROMPTS[prompt]])
        for text in BLANK:
            await chat.send(text)
            assert_graceful(chat, text, language, translators[language]._(FAILURE))
            assert only_text in chat.text, (text, chat.text)
            assert asked not in chat.text
            assert await stored(backend.db, chat.user) == before
        await assert_still_usable(backend, chat, prompt)


@pytest.mark.parametrize("prompt", ["name", "change_name"])
async def test_emoji_only_name_gets_the_name_rule(
    backend: Backend, translators: dict[str, Translator], prompt: str
) -> None:
    await seed_factories(backend.db)
    for language in LANGUAGES:
        chat = await open_prompt(backend, prompt, language, f"emoji-{language}")
        before = await stored(backend.db, chat.user)
        rule = say(translators, language, NAME_RULE)
        for text in EMOJI_ONLY:
            await chat.send(text)
            assert_graceful(chat, text, language, translators[language]._(FAILURE))
            assert rule in chat.text, (text, chat.text)
            assert await stored(backend.db, chat.user) == before
        await assert_still_usable(backend, chat, prompt)


async def test_emoji_only_factory_search_finds_nothing_and_asks_again(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    await seed_factories(backend.db)
    for language in LANGUAGES:
        chat = await open_prompt(backend, "factory", language, f"emoji-{language}")
        no_factory = say(translators, language, NO_FACTORY)
        asked = say(translators, language, FACTORY_PROMPT)
        for text in EMOJI_ONLY:
            await chat.send(text)
            assert_graceful(chat, text, language, translators[language]._(FAILURE))
            assert no_factory in chat.text, (text, chat.text)
            assert asked not in chat.text
            assert (await stored(backend.db, chat.user))[0] == FACTORY_STEP
        await assert_still_usable(backend, chat, "factory")


@pytest.mark.parametrize("prompt", PROMPTS)
async def test_control_characters_nul_and_lone_surrogates_do_not_break_the_database(
    backend: Backend, translators: dict[str, Translator], prompt: str
) -> None:
    await seed_factories(backend.db)
    for language in LANGUAGES:
        user = f"broken-{language}"
        chat = await open_prompt(backend, prompt, language, user)
        for text in CONTROL_AND_SURROGATES:
            await chat.send(text)
            assert_graceful(chat, text, language, translators[language]._(FAILURE))
            step, name = await stored(backend.db, chat.user)
            # Whatever was kept is clean: no control characters or surrogates get stored.
            if name is not None:
                assert clean_display_name(name) == name
                assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in name), name
            if step != PROMPTS[prompt]:
                # Taken as an answer (say "王\x00姐" as 王姐): come back to the prompt.
                user += "+"
                chat = await open_prompt(backend, prompt, language, user)
        await assert_still_usable(backend, chat, prompt)


async def test_a_name_with_a_nul_inside_is_saved_without_it(backend: Backend) -> None:
    await seed_factories(backend.db)
    chat = await open_prompt(backend, "change_name", "en", "nul")
    await chat.send("Ah\x00 Ming\x07")
    assert await stored(backend.db, chat.user) == (ACCOUNT_STEP, "Ah Ming")
    assert "Name: Ah Ming" in chat.text


async def test_the_longest_valid_name_is_kept_and_one_more_character_is_refused(
    backend: Backend, translators: dict[str, Translator]
) -> None:
    await seed_factories(backend.db)
    chat = await open_prompt(backend, "change_name", "zh_Hans", "limit")
    await chat.send("王" * (MAX_DISPLAY_NAME + 1))
    assert say(translators, "zh_Hans", NAME_RULE) in chat.text
    assert await stored(backend.db, chat.user) == (CHANGE_NAME_STEP, ORIGINAL_NAME)
    await chat.send("王" * MAX_DISPLAY_NAME)
    assert await stored(backend.db, chat.user) == (ACCOUNT_STEP, "王" * MAX_DISPLAY_NAME)
