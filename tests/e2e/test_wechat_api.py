"""WeChat's API client against a fake WeChat server: one token for all, errcodes read, no leaks."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.wechat.api import (
    WeChatApi,
    WeChatApiError,
    WeChatNotConfigured,
    WeChatUnavailable,
)
from ffs_bot.config import Settings
from ffs_bot.db.engine import create_engine, create_session_factory
from ffs_bot.db.tables import ApiTokenRow
from ffs_bot.db.uow import Database
from tests.conftest import Backend
from tests.fakes.clock import WallClock
from tests.fakes.wechat_api import (
    CUSTOM_SEND,
    DROP,
    HTTP_ERROR,
    TOKEN,
    FakeWeChatApi,
)

OPENID = "oABCD-follower-1"


def make_api(db: Database, wechat: FakeWeChatApi, clock: WallClock | None = None) -> WeChatApi:
    """The client as the service builds it, pointed at the fake server."""
    return WeChatApi(
        db,
        app_id=wechat.app_id,
        app_secret=wechat.secret,
        base_url=wechat.base_url,
        clock=clock or WallClock(),
        token_poll=0.01,
    )


@pytest.fixture
async def wechat() -> AsyncIterator[FakeWeChatApi]:
    async with FakeWeChatApi() as fake:
        yield fake


async def stored_token(db: Database) -> str | None:
    async with db.uow() as uow:
        return await uow.session.scalar(select(ApiTokenRow.token))


async def test_concurrent_calls_fetch_one_token_and_use_it(
    backend: Backend, wechat: FakeWeChatApi
) -> None:
    wechat.token_gate = asyncio.Event()
    async with make_api(backend.db, wechat) as api:
        sends = [asyncio.create_task(api.send_text(OPENID, f"n{n}")) for n in range(10)]
        await wechat.token_asked.wait()
        wechat.token_gate.set()
        await asyncio.gather(*sends)
    assert wechat.tokens_issued == 1
    (fetch,) = wechat.of(TOKEN)
    assert fetch.query == {
        "grant_type": "client_credential",
        "appid": wechat.app_id,
        "secret": wechat.secret,
    }
    used = {call.query["access_token"] for call in wechat.of(CUSTOM_SEND, ok=True)}
    assert len(wechat.of(CUSTOM_SEND, ok=True)) == 10
    assert used == {await stored_token(backend.db)}


async def test_two_replicas_on_one_database_fetch_one_token(
    backend: Backend, wechat: FakeWeChatApi
) -> None:
    # A second engine on the same database: another process, as far as the database knows.
    other_engine = create_engine(backend.url)
    other_db = Database(create_session_factory(other_engine))
    wechat.token_gate = asyncio.Event()
    try:
        async with make_api(backend.db, wechat) as first, make_api(other_db, wechat) as second:
            fetching = asyncio.create_task(first.send_text(OPENID, "from the first"))
            await wechat.token_asked.wait()
            # The second finds the first's claim, so it waits for the token, not fetches one.
            waiting = asyncio.create_task(second.send_text(OPENID, "from the second"))
            await asyncio.sleep(0.05)
            wechat.token_gate.set()
            await asyncio.gather(fetching, waiting)
    finally:
        await other_engine.dispose()
    assert wechat.tokens_issued == 1
    assert len({c.query["access_token"] for c in wechat.of(CUSTOM_SEND, ok=True)}) == 1


async def test_the_token_is_renewed_a_few_minutes_before_it_expires(
    backend: Backend, wechat: FakeWeChatApi
) -> None:
    clock = WallClock()
    async with (
        make_api(backend.db, wechat, clock) as api,
        make_api(backend.db, wechat, clock) as replica,
    ):
        first = await api.access_token()
        clock.advance(seconds=7200 - 301)
        assert await api.access_token() == first
        assert await replica.access_token() == first  # read from the database, not fetched
        clock.advance(seconds=2)  # within five minutes of WeChat's two hours
        second = await api.access_token()
        assert second != first
        assert await replica.access_token() == second
    assert wechat.tokens_issued == 2
    assert await stored_token(backend.db) == second


@pytest.mark.parametrize("rejection", ["expired", "invalid"])
async def test_a_rejected_token_is_renewed_and_the_call_made_again_once(
    backend: Backend, wechat: FakeWeChatApi, rejection: str
) -> None:
    async with make_api(backend.db, wechat) as api, make_api(backend.db, wechat) as replica:
        await api.send_text(OPENID, "one")
        await replica.send_text(OPENID, "two")
        old = await stored_token(backend.db)
        if rejection == "expired":
            wechat.expire_tokens()  # WeChat answers 42001
        else:
            wechat.valid.clear()  # 40001, as when someone fetched a token elsewhere
        await api.send_text(OPENID, "three")
        # The replica's copy is stale too; it finds the new token stored, and fetches none.
        await replica.send_text(OPENID, "four")
    assert wechat.tokens_issued == 2
    refused = 42001 if rejection == "expired" else 40001
    assert [c.errcode for c in wechat.of(CUSTOM_SEND)] == [0, 0, refused, 0, refused, 0]
    assert [c.body["text"]["content"] for c in wechat.of(CUSTOM_SEND, ok=True)] == [
        "one",
        "two",
        "three",
        "four",
    ]
    assert await stored_token(backend.db) not in (None, old)


async def test_a_token_refused_again_after_renewal_is_an_error(
    backend: Backend, wechat: FakeWeChatApi
) -> None:
    wechat.fail(CUSTOM_SEND, 40001, 40001)
    async with make_api(backend.db, wechat) as api:
        with pytest.raises(WeChatApiError) as caught:
            await api.send_text(OPENID, "hello")
    assert caught.value.errcode == 40001
    assert wechat.tokens_issued == 2
    assert len(wechat.of(CUSTOM_SEND)) == 2  # retried once, not more


async def test_an_errcode_in_a_200_answer_raises_with_errcode_and_errmsg(
    backend: Backend, wechat: FakeWeChatApi
) -> None:
    wechat.fail(CUSTOM_SEND, 45015)
    async with make_api(backend.db, wechat) as api:
        with pytest.raises(WeChatApiError) as caught:
            await api.send_text(OPENID, "hello")
        assert (caught.value.errcode, caught.value.errmsg) == (45015, "fake error 45015")
        await api.send_text(OPENID, "again")  # the token was not blamed
    assert wechat.tokens_issued == 1


@pytest.mark.parametrize("failure", [DROP, HTTP_ERROR])
async def test_no_answer_is_unavailable_and_the_error_does_not_show_the_token(
    backend: Backend, wechat: FakeWeChatApi, failure: str
) -> None:
    wechat.fail(CUSTOM_SEND, failure)
    async with make_api(backend.db, wechat) as api:
        with pytest.raises(WeChatUnavailable) as caught:
            await api.send_text(OPENID, "hello")
        token = await api.access_token()
    assert CUSTOM_SEND in str(caught.value)
    # Nor does the traceback a log would print: aiohttp's own error, quoting the URL, is hidden.
    printed = "".join(traceback.format_exception(caught.value))
    assert token not in printed and "access_token" not in printed


async def test_a_server_that_is_gone_is_unavailable(backend: Backend) -> None:
    async with FakeWeChatApi() as gone:
        pass
    async with make_api(backend.db, gone) as api:
        with pytest.raises(WeChatUnavailable):
            await api.send_text(OPENID, "hello")
    # The failed fetch gave its claim back: the next call may fetch at once.
    async with backend.db.uow() as uow:
        row = await uow.session.scalar(select(ApiTokenRow))
    assert row is not None and row.refreshing_until is None


async def test_a_wrong_secret_is_refused_and_the_next_call_tries_again(
    backend: Backend, wechat: FakeWeChatApi
) -> None:
    api = WeChatApi(backend.db, app_id=wechat.app_id, app_secret="wrong", base_url=wechat.base_url)
    async with api:
        for _ in range(2):
            with pytest.raises(WeChatApiError) as caught:
                await api.send_text(OPENID, "hello")
            assert caught.value.errcode == 40125
    assert len(wechat.of(TOKEN)) == 2
    assert wechat.of(CUSTOM_SEND) == []


async def test_logs_never_show_the_secret_the_token_or_a_message(
    backend: Backend, wechat: FakeWeChatApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    text = "王小明的孩子已经报名"
    async with make_api(backend.db, wechat) as api:
        await api.send_text(OPENID, text)
        first = await api.access_token()
        wechat.expire_tokens()
        await api.send_text(OPENID, text)
        second = await api.access_token()
        wechat.fail(CUSTOM_SEND, DROP)
        with pytest.raises(WeChatUnavailable):
            await api.send_text(OPENID, text)
    assert wechat.tokens_issued == 2
    assert "fetched a new WeChat access token" in caplog.text  # something was logged
    for secret in (wechat.secret, first, second, text, "access_token="):
        assert secret not in caplog.text


def test_the_api_needs_an_app_id_and_secret(backend: Backend) -> None:
    for env in ({}, {"WECHAT_APP_ID": "wx1"}, {"WECHAT_APP_SECRET": "s"}):
        settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
        with pytest.raises(WeChatNotConfigured, match="WECHAT_APP_ID and WECHAT_APP_SECRET"):
            WeChatApi.from_settings(settings, backend.db)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        WECHAT_APP_ID="wx1",
        WECHAT_APP_SECRET="s",
        WECHAT_API_BASE_URL="http://127.0.0.1:1/",
    )
    assert isinstance(WeChatApi.from_settings(settings, backend.db), WeChatApi)


async def test_hostile_texts_arrive_as_they_were_sent(
    backend: Backend, wechat: FakeWeChatApi, naughty_strings: list[str]
) -> None:
    async with make_api(backend.db, wechat) as api:
        for text in naughty_strings:
            await api.send_text(OPENID, text)
        await api.send_text(OPENID, "半个\ud800字")  # a lone surrogate cannot go as UTF-8
    received = [c.body["text"]["content"] for c in wechat.of(CUSTOM_SEND, ok=True)]
    assert received == [*naughty_strings, "半个?字"]
