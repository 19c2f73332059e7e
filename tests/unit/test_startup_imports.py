"""What a start loads: `ffs-bot --help` parses only, and a chat loads no report or channel code.

Each check runs in a fresh interpreter, so what this test process imported does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys

# Heavy, and each needed by one command or one kind of message only.
CHARTS = {"matplotlib", "numpy", "PIL", "ffs_bot.charts"}
WORKBOOKS = {"openpyxl", "lxml", "ffs_bot.xlsx"}
MIGRATIONS = {"alembic", "mako", "pygments"}
CHANNELS = {"telegram", "aiohttp", "wechatpy", "Crypto", "cryptography", "httpx", "bot.run"}


def loaded_by(*modules: str) -> set[str]:
    """The modules a fresh interpreter holds after importing `modules`."""
    code = f"import sys, {', '.join(modules)}; import json; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout))


def test_the_command_line_parses_with_the_standard_library_alone() -> None:
    loaded = loaded_by("bot.cli")
    ours = {name for name in loaded if name.split(".")[0] in {"ffs_bot", "handlers", "bot"}}
    assert ours == {"ffs_bot", "ffs_bot.ids", "ffs_bot.model", "bot", "bot.cli"}
    third_party = {"sqlalchemy", "pydantic", "pydantic_settings", "babel", "yaml", "asyncpg"}
    assert not loaded & (third_party | CHARTS | WORKBOOKS | MIGRATIONS | CHANNELS)


def test_a_chat_loads_no_chart_workbook_migration_or_channel_code() -> None:
    loaded = loaded_by("bot.commands")  # every command, the console's chat among them
    assert "sqlalchemy" in loaded  # the check sees imports at all
    assert not loaded & (CHARTS | WORKBOOKS | MIGRATIONS | CHANNELS)


def test_the_web_service_loads_wechatpy_only_for_a_wechat_request() -> None:
    loaded = loaded_by("bot.run", "bot.web", "bot.wechat.channel", "bot.wechat.sender")
    assert {"aiohttp", "telegram"} <= loaded
    assert not loaded & (CHARTS | WORKBOOKS | MIGRATIONS | {"wechatpy", "wechatpy.crypto"})
