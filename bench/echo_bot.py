"""A minimal python-telegram-bot echo bot: the throughput ceiling for a PTB bot.

Each text message gets one sendMessage echoing it; each button press gets an
answerCallbackQuery and one sendMessage naming the data. Long polling, like `ffs-bot run`.

    .venv/bin/python bench/echo_bot.py --base-url http://127.0.0.1:8081/bot --concurrency 8

`--concurrency 1` processes updates one at a time (PTB's default); N > 1 maps to
`ApplicationBuilder.concurrent_updates(N)`. The bot stops by itself after --max-seconds, and
on SIGINT/SIGTERM (PTB's stop signals: it finishes queued updates and confirms them first).
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters


async def echo_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a text message with one message."""
    message = update.effective_message
    assert message is not None and message.text is not None
    await context.bot.send_message(chat_id=message.chat_id, text=f"echo: {message.text}")


async def echo_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a button press: acknowledge the query, then one message."""
    query = update.callback_query
    assert query is not None and query.from_user is not None
    await query.answer()
    await context.bot.send_message(chat_id=query.from_user.id, text=f"pressed: {query.data}")


def build(base_url: str, token: str, concurrency: int, pool_size: int | None) -> Application:
    """The Application with its two handlers and a connection pool fitting `concurrency`."""
    pool = pool_size or max(8, 2 * concurrency)
    application = (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .concurrent_updates(concurrency if concurrency > 1 else False)
        .connection_pool_size(pool)
        .pool_timeout(10.0)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo_text))
    application.add_handler(CallbackQueryHandler(echo_press))
    return application


def main() -> None:
    """Parse options and poll until stopped or --max-seconds pass."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8081/bot")
    parser.add_argument("--token", default="123:ABC")
    parser.add_argument("--concurrency", type=int, default=1, help="1 = sequential")
    parser.add_argument("--pool-size", type=int, help="HTTP connections (default 2N, min 8)")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="stop after this long")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    application = build(args.base_url, args.token, args.concurrency, args.pool_size)

    async def stop_later(app: Application) -> None:
        asyncio.get_running_loop().call_later(args.max_seconds, app.stop_running)

    application.post_init = stop_later
    application.run_polling(allowed_updates=["message", "callback_query"])


if __name__ == "__main__":
    main()
