"""Console round trip: median time from a JSON line in to its answer line out.

Runs `ffs-bot chat --jsonl` as a subprocess on a fresh SQLite database, or with
`--postgres SERVER_URL` on a fresh PostgreSQL database made (and dropped) on that server;
onboards one person, then sends menu traffic; reports median, p95 and max of N messages.

    .venv/bin/python bench/console_roundtrip.py [--messages 100]
    .venv/bin/python bench/console_roundtrip.py --postgres postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

REPO = Path(__file__).resolve().parent.parent
ONBOARDING = [
    {"text": "/start f-SZ01"},
    {"press": "lang:zh_Hans"},
    {"press": "consent:yes"},
    {"text": "王姐"},
]
CYCLE = [
    {"press": "account"},
    {"press": "menu"},
    {"text": "帮助"},
    {"text": "随便说点什么"},
    {"text": "菜单"},
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--postgres", help="server URL to make a scratch database on")
    args = parser.parse_args()
    scratch = f"ffs_bench_{uuid.uuid4().hex[:8]}"
    if args.postgres:
        admin("CREATE DATABASE " + scratch, args.postgres)
    try:
        run(args.messages, args.postgres and args.postgres.rsplit("/", 1)[0] + "/" + scratch)
    finally:
        if args.postgres:
            admin(f"DROP DATABASE {scratch} WITH (FORCE)", args.postgres)


def admin(sql: str, server: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def run(messages: int, database_url: str | None) -> None:
    ffs_bot = shutil.which("ffs-bot", path=str(Path(sys.executable).parent))
    assert ffs_bot, "install the project first (make test)"
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "FFS_DATA_DIR": data_dir}
        env.pop("DATABASE_URL", None)
        if database_url:
            env["DATABASE_URL"] = database_url
        subprocess.run(
            [ffs_bot, "factory", "import", str(REPO / "ffs_bot/demo/factories.csv")],
            env=env,
            check=True,
            capture_output=True,
        )
        proc = subprocess.Popen(
            [ffs_bot, "chat", "--jsonl", "--user", "bench"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
        )
        assert proc.stdin and proc.stdout

        def roundtrip(message: dict[str, str]) -> float:
            started = time.perf_counter()
            proc.stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            elapsed = time.perf_counter() - started
            assert "replies" in json.loads(line), line
            return elapsed

        for message in ONBOARDING:
            roundtrip(message)
        times = [roundtrip(CYCLE[i % len(CYCLE)]) for i in range(messages)]
        proc.stdin.close()
        proc.wait(timeout=30)
    ms = sorted(t * 1000 for t in times)
    print(
        f"{'postgresql' if database_url else 'sqlite'}: console --jsonl round trip, "
        f"{len(ms)} messages: "
        f"median {statistics.median(ms):.2f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.2f} ms, "
        f"max {ms[-1]:.2f} ms"
    )


if __name__ == "__main__":
    main()
