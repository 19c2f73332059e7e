"""The console channel as a person uses it: numbered choices, restarts, long lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

FFS_BOT = Path(sys.executable).parent / "ffs-bot"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment["FFS_DATA_DIR"] = str(tmp_path)
    subprocess.run(
        [FFS_BOT, "factory", "import", str(REPO / "ffs_bot/demo/factories.csv")],
        env=environment,
        check=True,
        capture_output=True,
    )
    return environment


def chat(env: dict[str, str], lines: list[str], *extra: str) -> str:
    result = subprocess.run(
        [FFS_BOT, "chat", "--user", "worker", *extra],
        input="".join(line + "\n" for line in lines).encode(),
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert result.stderr == b""
    return result.stdout.decode()


def test_a_worker_signs_up_by_typing_numbers_and_labels(env: dict[str, str]) -> None:
    out = chat(env, ["1", "sz01", "同意", "王姐", "我的资料"], "--language-code", "zh-CN")
    assert "  1. 中文\n  2. English" in out
    assert "深圳龙岗欢乐玩具厂" in out
    assert "欢迎您，王姐！" in out
    assert "我的资料\n称呼：王姐" in out


def test_restarting_mid_conversation_picks_up_where_the_person_was(env: dict[str, str]) -> None:
    first = chat(env, ["English", "DG01"], "--language-code", "en-US")
    assert "Do you agree?" in first
    second = chat(env, ["1"])  # the bot greets on start; "1" answers the same notice
    assert "Do you agree?" in second
    assert "What should we call you?" in second


def test_restarting_mid_task_asks_the_same_question_and_keeps_what_was_typed(
    env: dict[str, str],
) -> None:
    signed_up = ["English", "DG01", "1", "Ah Ming"]
    first = chat(env, [*signed_up, "My children", "Add a child", "I agree", "Lily"])
    assert first.rstrip().endswith(
        "> When was Lily born? Type the year and month, for example "
        "2018-03 or 2018年3月.\n  【Cancel】\n\n>"
    )
    second = chat(env, ["2019-05", "Girl", "Mother"])
    # Not the main menu: the question the person was at, with the name typed before.
    assert second.split("\n\n")[1].startswith("When was Lily born?")
    assert "Is Lily a girl or a boy?" in second and "Saved: Lily." in second


def test_each_console_user_is_a_separate_person(env: dict[str, str]) -> None:
    chat(env, ["English", "DG01", "1", "Ah Ming"])
    other = subprocess.run(
        [FFS_BOT, "chat", "--user", "someone-else"],
        input=b"",
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout.decode()
    assert "请选择语言" in other
    assert "Ah Ming" not in other


def test_a_very_long_line_is_refused_politely(env: dict[str, str]) -> None:
    out = chat(env, ["2", "x" * 100_000, "SZ01"])
    assert "That message is too long" in out
    assert "Do you agree?" in out
