"""`ffs-bot wechat menu` against a fake WeChat server."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.e2e.test_cli import Result, assert_clear_failure, cli
from tests.e2e.test_cli import data_dir as data_dir  # a fresh data directory for each test
from tests.fakes.wechat_api import MENU_CREATE, FakeWeChatApi


async def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    # The command runs its own event loop: in a thread, while this one serves the fake.
    return await asyncio.to_thread(cli, capsys, *argv)


def configure(monkeypatch: pytest.MonkeyPatch, wechat: FakeWeChatApi) -> None:
    monkeypatch.setenv("WECHAT_APP_ID", wechat.app_id)
    monkeypatch.setenv("WECHAT_APP_SECRET", wechat.secret)
    monkeypatch.setenv("WECHAT_API_BASE_URL", wechat.base_url)


async def test_menu_pushes_the_chinese_menu_with_jump_keys(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeWeChatApi() as wechat:
        configure(monkeypatch, wechat)
        result = await run_cli(capsys, "wechat", "menu")
    assert (result.code, result.err) == (0, "")
    assert result.out == "WeChat menu set: 孩子报名 | 家长课堂 | 更多.\n"
    assert wechat.tokens_issued == 1
    (call,) = wechat.of(MENU_CREATE)
    assert call.ok and call.query["access_token"]
    # Chinese as UTF-8, not \u escapes, which WeChat would show as they are.
    assert "孩子报名".encode() in call.raw and b"\\u" not in call.raw
    assert json.loads(call.raw) == {
        "button": [
            {"type": "click", "name": "孩子报名", "key": "go:summer"},
            {"type": "click", "name": "家长课堂", "key": "go:ws"},
            {
                "name": "更多",
                "sub_button": [
                    {"type": "click", "name": "育儿小贴士", "key": "go:tips"},
                    {"type": "click", "name": "我的孩子", "key": "go:children"},
                    {"type": "click", "name": "我的资料", "key": "go:account"},
                    {"type": "click", "name": "主菜单", "key": "menu"},
                ],
            },
        ]
    }


async def test_menu_refused_by_wechat_says_why(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeWeChatApi() as wechat:
        configure(monkeypatch, wechat)
        wechat.fail(MENU_CREATE, 48001)
        refused = await run_cli(capsys, "wechat", "menu")
    assert_clear_failure(refused, 1, "the WeChat menu was not set", "errcode 48001")


async def test_menu_with_a_wrong_secret_says_so_without_showing_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeWeChatApi() as wechat:
        configure(monkeypatch, wechat)
        monkeypatch.setenv("WECHAT_APP_SECRET", "not-the-secret")
        result = await run_cli(capsys, "wechat", "menu")
    assert_clear_failure(result, 1, "errcode 40125")
    assert "not-the-secret" not in result.err
    assert wechat.of(MENU_CREATE) == []


def test_menu_without_the_account_configured_says_what_to_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_clear_failure(cli(capsys, "wechat", "menu"), 1, "WECHAT_APP_ID", "WECHAT_APP_SECRET")


async def test_menu_when_wechat_cannot_be_reached_fails_clearly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeWeChatApi() as gone:
        pass
    configure(monkeypatch, gone)
    result = await run_cli(capsys, "wechat", "menu")
    assert_clear_failure(result, 1, "/cgi-bin/token")
    assert gone.secret not in result.err
