"""Start-up: `ffs-bot --help`, and the console's first answer, as whole processes.

Each figure is the median of N runs after one warm-up run (not counted):

- `--help`: from the process's start to its exit, and its peak memory (the kernel's maxrss);
- first answer: `ffs-bot chat --jsonl` on a database already set up (the demo loaded, one
  person signed up), from the process's start to its first answer line on stdout; then its
  input is closed and it exits. With `--fresh`, also on a new data directory each run
  (the migrations run: the first start after an install).

    .venv/bin/python bench/startup.py [--repeats 5] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FFS_BOT = REPO / ".venv" / "bin" / "ffs-bot"
SIGN_UP = [
    {"text": "/start f-SZ01"},
    {"press": "lang:zh_Hans"},
    {"press": "consent:yes"},
    {"text": "王姐"},
]
ASK = {"text": "帮助"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="also time a first start")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ffs-startup-"))
    try:
        help_runs = measure(args.repeats, lambda: help_run(work))
        report("ffs-bot --help", help_runs)
        data = work / "data"
        set_up(data)
        report("first answer, database set up", measure(args.repeats, lambda: first(data)))
        if args.fresh:

            def fresh() -> tuple[float, int]:
                new = Path(tempfile.mkdtemp(dir=work))
                try:
                    return first(new)
                finally:
                    shutil.rmtree(new)

            report("first answer, new database", measure(args.repeats, fresh))
    finally:
        shutil.rmtree(work)


def environment(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return {**env, "FFS_DATA_DIR": str(data), "FFS_LOCALES_DIR": str(REPO / "locales")}


def help_run(work: Path) -> tuple[float, int]:
    start = time.perf_counter()
    process = subprocess.Popen(
        [FFS_BOT, "--help"], stdout=subprocess.DEVNULL, env=environment(work), cwd=work
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, process.returncode
    return elapsed, usage.ru_maxrss


def set_up(data: Path) -> None:
    lines = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in SIGN_UP)
    for command in (["demo"], ["chat", "--jsonl"]):
        subprocess.run(
            [FFS_BOT, *command],
            input=lines if command[0] == "chat" else "",
            capture_output=True,
            text=True,
            env=environment(data),
            cwd=data.parent,
            check=True,
        )


def first(data: Path) -> tuple[float, int]:
    start = time.perf_counter()
    process = subprocess.Popen(
        [FFS_BOT, "chat", "--jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=environment(data),
        cwd=data.parent,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(ASK, ensure_ascii=False) + "\n")
    process.stdin.flush()
    answer = process.stdout.readline()
    elapsed = time.perf_counter() - start
    assert "replies" in json.loads(answer), answer
    process.stdin.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    return elapsed, usage.ru_maxrss


def measure(repeats: int, run: Callable[[], tuple[float, int]]) -> list[tuple[float, int]]:
    run()  # warm-up: the page cache, and Python's bytecode where it may write it
    return [run() for _ in range(repeats)]


def report(name: str, runs: list[tuple[float, int]]) -> None:
    seconds = [s for s, _ in runs]
    peak = statistics.median(kb for _, kb in runs) / 1024
    print(
        f"{name:32} median {statistics.median(seconds):.3f} s "
        f"(min {min(seconds):.3f}, max {max(seconds):.3f}), peak {peak:.1f} MiB, "
        f"{len(runs)} runs"
    )


if __name__ == "__main__":
    main()
