"""Bot API calls through aiohttp: answers, Telegram's errors, timeouts and proxies."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.telegram.request import AiohttpRequest, proxy_from_environment

CALLS = web.AppKey("calls", list)
BOT = {"id": 1, "is_bot": True, "first_name": "Bot", "username": "b_bot"}


async def fake_telegram(request: web.Request) -> web.Response:
    method = request.match_info["method"]
    form = dict(await request.post())
    request.app[CALLS].append((method, form))
    if method == "getMe":
        return web.json_response({"ok": True, "result": BOT})
    if method == "sendChatAction":
        await asyncio.sleep(1.0)
        return web.json_response({"ok": True, "result": True})
    if form.get("text") == "refuse":
        return web.json_response(
            {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
            status=400,
        )
    message = {
        "message_id": 7,
        "date": 1_780_000_000,
        "chat": {"id": int(str(form["chat_id"])), "type": "private"},
        "from": BOT,
        "text": form["text"],
    }
    return web.json_response({"ok": True, "result": message})


@pytest.fixture
async def server():
    app = web.Application()
    app[CALLS] = []
    app.router.add_post("/bot123:ABC/{method}", fake_telegram)
    async with TestServer(app) as srv:
        yield srv


def make_bot(base_url: str, **kwargs) -> Bot:
    return Bot("123:ABC", base_url=base_url, request=AiohttpRequest(**kwargs))


async def test_a_call_sends_its_parameters_as_a_form_and_reads_the_answer(server) -> None:
    async with make_bot(str(server.make_url("/bot"))) as bot:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("中文", callback_data="lang:zh")]])
        sent = await bot.send_message(chat_id=5, text="你好 & <b>", reply_markup=markup)
    assert sent.message_id == 7
    assert sent.text == "你好 & <b>"
    method, form = server.app[CALLS][-1]
    assert method == "sendMessage"
    assert form["chat_id"] == "5"
    assert json.loads(form["reply_markup"])["inline_keyboard"][0][0]["callback_data"] == "lang:zh"


async def test_telegram_refusing_is_its_error_not_a_network_error(server) -> None:
    async with make_bot(str(server.make_url("/bot"))) as bot:
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(chat_id=5, text="refuse")


async def test_a_slow_answer_times_out(server) -> None:
    async with make_bot(str(server.make_url("/bot")), read_timeout=0.1) as bot:
        with pytest.raises(TimedOut):
            await bot.send_chat_action(chat_id=5, action="typing")


async def test_no_server_is_a_network_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError):
            await request.post(f"http://127.0.0.1:{port}/bot123:ABC/getMe")
    finally:
        await request.shutdown()


def test_the_proxy_comes_from_the_environment_unless_no_proxy_names_the_host(
    monkeypatch,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert proxy_from_environment("https://api.telegram.org/bot") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    assert proxy_from_environment("https://api.telegram.org/bot") == "http://proxy.local:3128"
    monkeypatch.setenv("NO_PROXY", "api.telegram.org")
    assert proxy_from_environment("https://api.telegram.org/bot") is None
