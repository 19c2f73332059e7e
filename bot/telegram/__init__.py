"""The Telegram channel, on python-telegram-bot's Bot, request and rate-limiter hooks."""
