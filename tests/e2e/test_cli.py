"""The `ffs-bot` command line end to end: database, factories, staff, chat and demo.

Most tests call `bot.cli.main` in this process (it runs its own event loop, so they are plain
functions); the console script itself runs as a real subprocess where that matters. Every
test works in its own directory and data directory, with no database settings inherited.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from ffs_bot.config import Settings

# Today's demo factories and those that joined for the 2018 programme.
DEMO_CODES = [
    *("DG01", "DG02", "DG03", "DG04", "FS01", "GZ01", "GZ02", "HY01", "HZ01"),
    *("JM01", "QY01", "SG01", "SZ01", "SZ02", "SZ03", "SZ04", "ZH01", "ZS01"),
]
HEADER = "code,name_zh,name_en,city,timezone"
GOOD_ROWS = [
    "SZ01,深圳龙岗欢乐玩具厂,Longgang Happy Toys,深圳,Asia/Shanghai",
    "DG01,东莞长安彩虹玩具厂,Chang'an Rainbow Toys,东莞,Asia/Shanghai",
]
# Settings are read from these names in any letter case; FFS_LOG_LEVEL is read by main().
SETTING_NAMES = {
    str(field.alias).upper() for field in Settings.model_fields.values() if field.alias
} | {"FFS_LOG_LEVEL"}


@dataclass(frozen=True)
class Result:
    """What a command printed and returned."""

    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working and data directory; no DATABASE_URL or other setting leaks in."""
    for name in list(os.environ):
        if name.upper() in SETTING_NAMES:
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no .env from the repository, and no ./data written there
    data = tmp_path / "data"
    monkeypatch.setenv("FFS_DATA_DIR", str(data))
    return data


@pytest.fixture
def ffs_bot() -> Path:
    """The installed console script."""
    script = Path(sys.executable).parent / "ffs-bot"
    found = script if script.is_file() else shutil.which("ffs-bot")
    assert found, "the ffs-bot console script is not installed: run make test"
    return Path(found)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """Run the command line in this process."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return Result(code, out, err)


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """Run a command line that argparse refuses."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    assert isinstance(exit_info.value.code, int)
    return Result(exit_info.value.code, out, err)


def write_csv(path: Path, *lines: str, encoding: str = "utf-8") -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding=encoding)
    return path


def factories_json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    result = cli(capsys, "factory", "list", "--json")
    assert (result.code, result.err) == (0, "")
    data: list[dict[str, str]] = json.loads(result.out)
    return data


def assert_clear_failure(result: Result, code: int, *words: str) -> None:
    """A non-zero exit with one short `ffs-bot: ...` message and no stack trace."""
    assert result.code == code, result
    assert "Traceback" not in result.err
    assert result.err.startswith("ffs-bot: "), result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    for word in words:
        assert word in result.err, (word, result.err)


# --- db upgrade ---------------------------------------------------------------------------


def test_db_upgrade_creates_the_database_in_the_data_directory_and_can_run_again(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    assert cli(capsys, "db", "upgrade") == Result(0, "Database is up to date.\n", "")
    assert (data_dir / "ffs.db").is_file()
    assert not (Path.cwd() / "data").exists()
    assert cli(capsys, "db", "upgrade") == Result(0, "Database is up to date.\n", "")


# --- factory import and list --------------------------------------------------------------


def test_factory_import_keeps_good_rows_and_reports_bad_ones_by_line_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "factories.csv",
        HEADER,
        GOOD_ROWS[0],  # line 2
        "sz 02,坏编号,Bad Code,深圳,Asia/Shanghai",  # 3: a space in the code
        "DG01,东莞长安彩虹玩具厂,Chang'an Rainbow Toys,东莞,",  # 4: default time zone
        "",  # 5: blank lines are skipped, but still counted
        "HY01,,Heyuan Toys,河源,Asia/Shanghai",  # 6: no Chinese name
        "GZ01,广州番禺积木玩具厂,Panyu Toys,广州,Mars/Olympus",  # 7: unknown time zone
        "HZ01,惠州,Huizhou",  # 8: too few columns
        "sz01,重复,Duplicate,深圳,Asia/Shanghai",  # 9: repeats line 2
        "SG01," + "长" * 101 + ",Long,韶关,Asia/Shanghai",  # 10: name too long
    )
    result = cli(capsys, "factory", "import", str(path))

    assert result.code == 1
    assert result.out == "Imported 2 factories (2 new, 0 updated); 6 rows refused.\n"
    errors = result.err.splitlines()
    assert [line.split(": ", 1)[0] for line in errors] == [
        f"{path}:{n}" for n in (3, 6, 7, 8, 9, 10)
    ]
    for line, words in zip(
        errors,
        [
            "code 'SZ 02'",
            "name_zh is empty",
            "unknown time zone 'Mars/Olympus'",
            "expected 5 columns, got 3",
            "code SZ01 repeats line 2",
            "name_zh is longer than 100",
        ],
        strict=True,
    ):
        assert words in line, line
    assert factories_json(capsys) == [
        {
            "code": "DG01",
            "name_zh": "东莞长安彩虹玩具厂",
            "name_en": "Chang'an Rainbow Toys",
            "city": "东莞",
            "timezone": "Asia/Shanghai",
        },
        {
            "code": "SZ01",
            "name_zh": "深圳龙岗欢乐玩具厂",
            "name_en": "Longgang Happy Toys",
            "city": "深圳",
            "timezone": "Asia/Shanghai",
        },
    ]


def test_factory_import_of_a_clean_file_exits_zero_and_reimport_updates_by_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_csv(tmp_path / "first.csv", HEADER, *GOOD_ROWS)
    assert cli(capsys, "factory", "import", str(first)) == Result(
        0, "Imported 2 factories (2 new, 0 updated); 0 rows refused.\n", ""
    )

    monkeypatch.setenv("FFS_DEFAULT_TIMEZONE", "Asia/Urumqi")
    second = write_csv(
        tmp_path / "second.csv",
        HEADER,
        "ｓｚ01,深圳龙岗欢乐玩具有限公司,Longgang Happy Toys Ltd,深圳,",  # same code, typed wide
        "HY01,河源新港玩具厂,Heyuan Xingang Toys,河源,Asia/Shanghai",
    )
    assert cli(capsys, "factory", "import", str(second)) == Result(
        0, "Imported 2 factories (1 new, 1 updated); 0 rows refused.\n", ""
    )
    by_code = {f["code"]: f for f in factories_json(capsys)}
    assert sorted(by_code) == ["DG01", "HY01", "SZ01"]
    assert by_code["SZ01"]["name_zh"] == "深圳龙岗欢乐玩具有限公司"
    assert by_code["SZ01"]["name_en"] == "Longgang Happy Toys Ltd"
    assert by_code["SZ01"]["timezone"] == "Asia/Urumqi"
    assert by_code["DG01"]["name_en"] == "Chang'an Rainbow Toys"  # not in the file: untouched


def test_factory_import_reads_a_file_saved_with_a_byte_order_mark(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "excel.csv", HEADER, GOOD_ROWS[0], encoding="utf-8-sig")
    assert cli(capsys, "factory", "import", str(path)).code == 0
    assert [f["code"] for f in factories_json(capsys)] == ["SZ01"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        pytest.param(
            b"code,name,city\nSZ01,x,y\n",
            ["the first line must be: code,name_zh,name_en,city,timezone"],
            id="bad-header",
        ),
        pytest.param(b"", ["the first line must be"], id="empty-file"),
        pytest.param(
            f"{HEADER}\n{GOOD_ROWS[0]}\n".encode("gbk"),
            ["cannot read", "factories.csv", "utf-8"],
            id="not-utf-8",
        ),
        pytest.param(None, ["cannot read", "factories.csv", "No such file"], id="missing-file"),
    ],
)
def test_factory_import_of_an_unusable_file_says_why_and_imports_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None, words: list[str]
) -> None:
    path = tmp_path / "factories.csv"
    if content is not None:
        path.write_bytes(content)
    assert_clear_failure(cli(capsys, "factory", "import", str(path)), 1, *words)
    assert factories_json(capsys) == []


def test_factory_import_of_a_directory_says_it_cannot_read_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert_clear_failure(cli(capsys, "factory", "import", str(tmp_path)), 1, "cannot read")


def test_factory_list_says_when_there_are_none_and_shows_a_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = cli(capsys, "factory", "list")
    assert empty.code == 0
    assert "No factories yet" in empty.out
    assert json.loads(cli(capsys, "factory", "list", "--json").out) == []

    cli(capsys, "factory", "import", str(write_csv(tmp_path / "f.csv", HEADER, *GOOD_ROWS)))
    table = cli(capsys, "factory", "list")
    assert table.code == 0
    lines = table.out.splitlines()
    assert [line.split()[0] for line in lines] == ["DG01", "SZ01"]
    assert "深圳龙岗欢乐玩具厂" in lines[1]
    assert "Longgang Happy Toys" in lines[1]
    assert lines[1].endswith("Asia/Shanghai")


# --- staff ----------------------------------------------------------------------------------


@pytest.fixture
def factories(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", HEADER, *GOOD_ROWS)
    assert cli(capsys, "factory", "import", str(path)).code == 0


@pytest.mark.usefixtures("factories")
def test_staff_add_grants_admin_and_coordinator_roles_and_staff_list_shows_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "No staff yet" in cli(capsys, "staff", "list").out

    admin = cli(
        capsys, "staff", "add", "--channel", "console", "--user-id", "boss", "--role", "admin"
    )
    assert admin == Result(0, "console:boss is admin (all factories)\n", "")

    coordinator = shlex.split(
        "staff add --channel telegram --user-id 12345 --role coordinator --factory SZ01 "
        "--factory dg01"
    )
    expected = "telegram:12345 is coordinator (DG01)\ntelegram:12345 is coordinator (SZ01)\n"
    assert cli(capsys, *coordinator) == Result(0, expected, "")
    # Granting the same again changes nothing.
    assert cli(capsys, *coordinator) == Result(0, expected, "")

    listed = cli(capsys, "staff", "list")
    assert listed.code == 0
    assert [line.split() for line in listed.out.splitlines()] == [
        ["console:boss", "admin", "all", "factories"],
        ["telegram:12345", "coordinator", "DG01"],
        ["telegram:12345", "coordinator", "SZ01"],
    ]


@pytest.mark.usefixtures("factories")
@pytest.mark.parametrize(
    ("options", "words"),
    [
        pytest.param(
            ["--role", "admin", "--factory", "SZ01"],
            ["a programme admin covers every factory"],
            id="admin-with-factory",
        ),
        pytest.param(
            ["--role", "coordinator"],
            ["a coordinator needs at least one --factory"],
            id="no-scope",
        ),
        pytest.param(
            ["--role", "sponsor", "--factory", "SZ01", "--factory", "NOPE"],
            ["unknown factory code(s): NOPE"],
            id="unknown-factory",
        ),
    ],
)
def test_staff_add_refuses_a_wrong_scope_and_grants_nothing(
    capsys: pytest.CaptureFixture[str], options: list[str], words: list[str]
) -> None:
    result = cli(capsys, "staff", "add", "--channel", "wechat", "--user-id", "o-abc", *options)
    assert_clear_failure(result, 1, *words)
    assert "No staff yet" in cli(capsys, "staff", "list").out


@pytest.mark.parametrize("user_id", ["x" * 129, "a b", "id\u0000"])
def test_staff_add_refuses_user_ids_no_channel_has(
    capsys: pytest.CaptureFixture[str], user_id: str
) -> None:
    result = cli(
        capsys, "staff", "add", "--channel", "telegram", "--user-id", user_id, "--role", "admin"
    )
    assert_clear_failure(result, 1, "the user id must be")


def test_staff_add_refuses_a_blank_user_id(capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(
        capsys, "staff", "add", "--channel", "console", "--user-id", "  ", "--role", "admin"
    )
    assert_clear_failure(result, 1, "the user id must be")
    assert "No staff yet" in cli(capsys, "staff", "list").out


@pytest.mark.parametrize(
    ("options", "words"),
    [
        pytest.param(["--channel", "sms", "--role", "admin"], ["invalid choice: 'sms'"], id="ch"),
        pytest.param(
            ["--channel", "console", "--role", "boss"], ["invalid choice: 'boss'"], id="role"
        ),
        pytest.param(["--channel", "console"], ["--role"], id="no-role"),
    ],
)
def test_staff_add_with_an_unknown_channel_or_role_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], data_dir: Path, options: list[str], words: list[str]
) -> None:
    result = usage_error(capsys, "staff", "add", "--user-id", "x", *options)
    assert result.code == 2
    assert "usage: ffs-bot staff add" in result.err
    for word in words:
        assert word in result.err
    assert not data_dir.exists(), "a usage error must not touch the database"


# --- run and configuration ----------------------------------------------------------------


def test_run_without_a_chat_channel_configured_fails_and_points_to_the_demo(
    ffs_bot: Path,
) -> None:
    # A subprocess with a time limit: a `run` that started serving would never return.
    run = subprocess.run([ffs_bot, "run"], env=dict(os.environ), capture_output=True, timeout=60)
    err = run.stderr.decode()
    assert run.returncode != 0
    assert "'ffs-bot demo'" in err
    assert "Traceback" not in err
    assert run.stdout == b""


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("DATABASE_URL", "mysql://x", ["DATABASE_URL", "unsupported database scheme 'mysql'"]),
        ("DATABASE_URL", "not a url", ["DATABASE_URL", "scheme://"]),
        ("FFS_DEFAULT_TIMEZONE", "Mars/Base", ["unknown time zone 'Mars/Base'"]),
        ("FFS_HTTP_PORT", "0", ["FFS_HTTP_PORT"]),
    ],
)
def test_bad_configuration_is_reported_with_exit_code_2(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    name: str,
    value: str,
    words: list[str],
) -> None:
    monkeypatch.setenv(name, value)
    result = cli(capsys, "factory", "list")
    assert_clear_failure(result, 2, "ffs-bot: bad configuration: ", *words)
    assert result.out == ""
    assert not data_dir.exists()


def test_a_database_file_that_is_not_a_database_gives_a_clear_message(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    data_dir.mkdir()
    (data_dir / "ffs.db").write_bytes(b"this is not a SQLite database, just some text" * 10)
    try:
        result = cli(capsys, "factory", "list")
    except Exception as exc:  # what the console script would print as a stack trace
        pytest.fail(f"unhandled {type(exc).__name__}: {exc}")
    assert_clear_failure(result, 1)


# --- chat --jsonl and demo ----------------------------------------------------------------


def test_console_script_reports_import_errors_and_bad_configuration_by_exit_code(
    ffs_bot: Path, tmp_path: Path, data_dir: Path
) -> None:
    path = write_csv(tmp_path / "f.csv", HEADER, GOOD_ROWS[0], "bad code,x,y,z,")
    env = dict(os.environ)
    run = subprocess.run(
        [ffs_bot, "factory", "import", path], env=env, capture_output=True, timeout=60
    )
    assert run.returncode == 1
    assert run.stdout.decode() == "Imported 1 factories (1 new, 0 updated); 1 rows refused.\n"
    assert run.stderr.decode().startswith(f"{path}:3: code 'BAD CODE'")
    assert (data_dir / "ffs.db").is_file()

    env["DATABASE_URL"] = "mysql://x"
    bad = subprocess.run([ffs_bot, "factory", "list"], env=env, capture_output=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.decode().startswith("ffs-bot: bad configuration: DATABASE_URL")


def _jsonl(ffs_bot: Path, lines: list[bytes], *options: str) -> list[dict[str, Any]]:
    run = subprocess.run(
        [ffs_bot, "chat", "--jsonl", "--user", "worker", *options],
        input=b"".join(lines),
        env=dict(os.environ),
        capture_output=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr.decode()
    assert run.stderr == b""
    out = run.stdout.decode("utf-8").splitlines()
    assert len(out) == len(lines), out
    answers = [json.loads(line) for line in out]
    for answer in answers:
        assert isinstance(answer, dict)
        assert len(answer) == 1
        assert ("replies" in answer) != ("error" in answer)
    return answers


@pytest.mark.usefixtures("factories")
def test_chat_jsonl_answers_every_line_with_exactly_one_json_line(ffs_bot: Path) -> None:
    def line(data: object) -> bytes:
        return json.dumps(data).encode() + b"\n"

    lines = [
        line({"text": "/start"}),  # 0
        b"this is not json\n",  # 1
        line({"press": 5}),  # 2
        line([1, 2]),  # 3
        line({"text": "a", "press": "b"}),  # 4
        line({}),  # 5
        b"\n",  # 6
        line({"press": "lang:en"}),  # 7
        line({"text": "SZ01", "id": "m-1"}),  # 8
        line({"text": "SZ01", "id": "m-1"}),  # 9: the same message again
        b'{"text": "\\u0000\\ud800"}\n',  # 10: NUL and a lone surrogate
        b'{"text": "\xff\xfe"}\n',  # 11: not UTF-8
        b'{"text": "' + b"x" * 70_000 + b'"}\n',  # 12: longer than a line may be
        line({"press": "consent:yes", "id": 7}),  # 13
        line({"press": "consent:yes", "id": 7}),  # 14
        line({"text": "Ah Ming", "id": "m-2"}),  # 15
        b'{"text": "menu"}',  # 16: the last line has no newline
    ]
    answers = _jsonl(ffs_bot, lines, "--language-code", "en-US")

    errors = {i: a["error"] for i, a in enumerate(answers) if "error" in a}
    assert sorted(errors) == [1, 2, 3, 4, 5, 6, 12]
    assert errors[2] == '"text" and "press" take a string'
    assert "expected an object" in errors[3]
    assert "exactly one" in errors[4] and "exactly one" in errors[5]
    assert "longer than" in errors[12]

    def text(i: int) -> str:
        return "\n".join(reply["text"] for reply in answers[i]["replies"])

    assert [c["payload"] for c in answers[0]["replies"][-1]["choices"]] == [
        "lang:en",
        "lang:zh_Hans",
    ]
    assert "Which factory" in text(7)
    assert "Longgang Happy Toys" in text(8)
    assert answers[9] == answers[8]
    # Broken text changed nothing: one line says why, and the question's buttons stand.
    assert "I can only read text" in text(10)
    assert "Please tap “I agree” or “No, thanks” below" in text(11)
    for broken in (10, 11):
        assert "consent:yes" in [c["payload"] for c in answers[broken]["replies"][-1]["choices"]]
    assert "What should we call you?" in text(13)
    assert answers[14] == answers[13]
    assert "Welcome, Ah Ming!" in text(15)
    assert "Ah Ming, what would you like to do?" in text(16)
    for i in range(len(answers)):
        if i not in errors:
            assert "something went wrong" not in text(i), (i, text(i))

    # A message id is remembered across runs: the same id gets the same answer again.
    again = _jsonl(ffs_bot, [line({"text": "SZ01", "id": "m-1"}), line({"text": "menu"})])
    assert again[0] == answers[8]
    assert "Ah Ming, what would you like to do?" in "\n".join(
        reply["text"] for reply in again[1]["replies"]
    )


def test_demo_loads_the_demo_factories_only_into_an_empty_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def demo() -> Result:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"English\nsz01\n")))
        return cli(capsys, "demo", "--language-code", "en")

    first = demo()
    assert first.code == 0
    assert first.err == (
        f"Loaded demo data: {len(DEMO_CODES)} factories, 1 open season, 3 upcoming workshops, "
        "75 parenting tips.\n"
        "History: summer 2018 at 18 factories (11 returning, 7 sponsored), 691 children, "
        "788 parents; see 'ffs-bot report --year 2018'.\n"
        "console:local also coordinates SZ01's season: after signing up, the menu shows "
        "'Staff menu'.\n"
    )
    assert "Ctrl-D" in first.out
    assert "Which factory" in first.out
    assert "Longgang Happy Toys" in first.out
    assert [f["code"] for f in factories_json(capsys)] == DEMO_CODES

    second = demo()
    assert second.code == 0
    assert second.err == ""
    assert [f["code"] for f in factories_json(capsys)] == DEMO_CODES


def test_demo_leaves_a_database_with_factories_alone(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "f.csv", HEADER, "ZZ01,测试厂,Test Factory,深圳,")
    assert cli(capsys, "factory", "import", str(path)).code == 0
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    result = cli(capsys, "demo")
    assert result.code == 0
    assert "Loaded demo data" not in result.err
    assert [f["code"] for f in factories_json(capsys)] == ["ZZ01"]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["export", "registrations", "--season", "9" * 20, "--format", "csv", "-o", "x"], "id"),
        (["export", "bookings", "--workshop", str(2**31), "--format", "csv", "-o", "x"], "id"),
        (["export", "bookings", "--workshop", "-1", "--format", "csv", "-o", "x"], "id"),
        (["audit", "--limit", "9" * 30], "from 1 to"),
        (["report", "--year", "1e5"], "from 2000 to 2100"),
    ],
)
def test_numbers_no_column_holds_are_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    # Passed on, PostgreSQL would refuse them with a traceback ("out of range").
    result = usage_error(capsys, *argv)
    assert result.code == 2 and words in result.err and "Traceback" not in result.err
