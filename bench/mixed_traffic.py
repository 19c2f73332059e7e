"""Mixed traffic: updates/s, latency at half load and peak memory of `ffs-bot run` vs echo bots.

Each of U users (default 2,000) goes through a whole scripted flow against the fake Bot API
(bench/fake_bot_api.py, in this process): onboarding (`/start f-SZ01`, language, consent,
name), adding a child, registering the child for the summer Family-Friendly Space, booking a
workshop, asking for a tip, and the menu presses between them (FLOW below, 24 updates). A
user sends the next update once the bot has answered the previous one (as many replies as
the calibration run saw for that step); users interleave, each user's updates stay in order.
Buttons whose payload carries an id (the child to register, the workshop to open) are read
from the bot's newest keyboard in that chat.

- updates/s: all U users start at once (closed loop: each has one update waiting or in the
  bot); from the first getUpdates that hands out updates to the last expected reply.
- latency at half load: a fresh bot gets updates at a fixed rate, half of the median
  updates/s measured for that bot (open loop: one update per tick, from a user whose previous
  update was answered, or else a new user); from putting an update in the queue to the first
  sendMessage/editMessageText the bot makes for it; p50/p95/p99 after a warm-up. With
  --show-flow, also each latency in parts (waiting for a getUpdates to hand the update out,
  the bot until its first call for it, that call to the answer) and the polls (batch sizes,
  the bot's time between a batch and its next getUpdates). --latency-rate fixes the offered
  rate, so runs back to back on a noisy machine offer the same load.
- peak memory: the bot process's VmHWM.

`ffs-bot run` runs on a fresh database per run loaded with `ffs-bot demo` (18 factories, the
open season at SZ01 with 30 places, 3 workshops, 75 tips, 2018 history): SQLite in a fresh
data dir and/or PostgreSQL in a database created for the run and dropped after it. Echo bots
(bench/echo_bot.py) get the same traffic, with fewer users when a run would take longer than
--budget seconds (the table says so).

    .venv/bin/python bench/mixed_traffic.py [--users 2000] [--repeats 3] [--delays 0,50]
        [--databases sqlite,postgresql] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
        [--concurrency 4,32] [--skip-echo] [--skip-ours] [--latency-rate R] [--show-flow]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_bot_api import REPLY_METHODS, FakeBotAPI
from telegram_throughput import (
    BIN,
    TOKEN,
    BotConfig,
    BotProcess,
    BotUnavailable,
    error_summary,
    free_port,
    ratio,
    running_bot,
    tail,
)

# (kind, value): "text" sends value; "press" presses a button with that payload; "pick"
# presses the button of the newest keyboard whose payload starts with value (the n-th such
# button for user n, so users spread over the workshops).
FLOW: tuple[tuple[str, str], ...] = (
    ("text", "/start f-SZ01"),
    ("press", "lang:zh_Hans"),
    ("press", "consent:yes"),
    ("text", "王姐"),
    ("press", "children"),
    ("press", "child:add"),
    ("press", "childnotice:yes"),
    ("text", "小明"),
    ("text", "2019-05"),
    ("press", "gender:none"),
    ("press", "rel:mother"),
    ("press", "menu"),
    ("press", "summer"),
    ("press", "summer:register"),
    ("pick", "summer:child:"),
    ("press", "summer:whole"),
    ("press", "menu"),
    ("press", "ws"),
    ("pick", "ws:open:"),
    ("press", "ws:book"),
    ("press", "menu"),
    ("press", "tips"),
    ("press", "tips:more"),
    ("text", "menu"),
)
PER_USER = len(FLOW)
ANSWERS = frozenset({"sendMessage", "editMessageText"})  # what latency is measured to
FIRST_USER_ID = 800_000_001
CALIBRATION_USERS = 8
PROBE_SECONDS = 6.0  # echo bots: how long the probe of their speed lasts
MIN_ECHO_USERS = 10
WARM_UP = 2.0  # latency runs: updates queued in the first seconds are left out
QUIET = 0.4  # calibration: this long without a call (plus 4 delays) ends a step


@dataclass
class Run:
    """One measured run (throughput or latency)."""

    users: int
    updates: int
    seconds: float
    rate: float
    peak_rss_kb: int | None
    stalls: int
    errors: dict[str, int]
    bot_cpu_ms: float | None = None  # the bot process's CPU time per update
    bot_cpu_share: float | None = None  # of one core, during the run
    server_cpu: float = 0.0  # this process's (the fake's and the users') share of one core
    latency_ms: dict[str, float] = field(default_factory=dict)
    offered_rate: float = 0.0
    late_ticks: int = 0
    note: str = ""


@dataclass
class Result:
    """All runs of one bot configuration at one delay on one database."""

    config: BotConfig
    delay_ms: float
    database: str  # "" for echo bots
    users: int = 0
    runs: list[Run] = field(default_factory=list)
    latency_runs: list[Run] = field(default_factory=list)
    failure: str = ""

    @property
    def label(self) -> str:
        """The configuration's name in the table."""
        return f"{self.config.name} {self.database}".strip()

    @property
    def rate(self) -> float | None:
        """Median updates/s of the complete throughput runs."""
        rates = [r.rate for r in self.runs if not r.note]
        return statistics.median(rates) if rates else None

    @property
    def peak_rss_mb(self) -> float | None:
        """Median peak RSS of the bot process over the throughput runs, in MiB."""
        rss = [r.peak_rss_kb for r in self.runs if r.peak_rss_kb]
        return statistics.median(rss) / 1024 if rss else None

    def latency(self, key: str) -> float | None:
        """Median over the latency runs of one percentile, in ms."""
        values = [r.latency_ms[key] for r in self.latency_runs if key in r.latency_ms]
        return statistics.median(values) if values else None


# -- the fake server and the users --------------------------------------------------------


class Users:
    """The scripted users: who is at which step, and what they have been answered."""

    def __init__(self, api: FakeBotAPI, count: int, expected: Sequence[int], language: str):
        self.api = api
        self.count = count
        self.expected = list(expected)  # replies per step (the calibration's)
        self.language = language
        self.step = [0] * count  # next step to send
        self.got = [0] * count  # replies received
        self.need = [0] * count  # replies that complete the step sent last
        self.sent_at: dict[int, float] = {}  # user index -> when its update was queued
        # user index -> when getUpdates handed its update out, and when the bot's first call
        # for it (of any method) arrived
        self.handed_at: dict[int, float] = {}
        self.first_call_at: dict[int, float] = {}
        # (queued at, seconds to the answer, step of FLOW)
        self.latencies: list[tuple[float, float, int]] = []
        # the answer's latency in parts: (waiting for getUpdates, in the bot until its first
        # call for the update, from that call to the answer), in seconds, with the latency
        self.parts: list[tuple[float, float, float, float]] = []
        self.ready: deque[int] = deque()  # users whose last update was answered in full
        self.closed_loop = True
        self.finished = 0
        self.last_finished_at = 0.0
        self.started = 0  # users that have sent their first update
        self.stalls = 0

    def send_next(self, index: int) -> None:
        """Queue user `index`'s next update."""
        user = FIRST_USER_ID + index
        kind, value = FLOW[self.step[index]]
        if self.step[index] == 0:
            self.started += 1
        self.need[index] = self.got[index] + self.expected[self.step[index]]
        self.step[index] += 1
        self.sent_at[index] = time.monotonic()
        self.handed_at.pop(index, None)
        self.first_call_at.pop(index, None)
        if kind == "text":
            self.api.enqueue_message(user, value, language_code=self.language)
            return
        message_id = None
        if kind == "pick":
            value, message_id = self.pick(user, index, value)
        self.api.enqueue_press(user, value, language_code=self.language, message_id=message_id)

    def pick(self, user: int, index: int, prefix: str) -> tuple[str, int | None]:
        """The payload starting with `prefix` in the newest keyboard (prefix + '1' if none)."""
        chat = self.api.chats.get(user)
        for message in reversed(list(chat.messages.values()) if chat else []):
            markup = message.get("reply_markup") if message["from"]["is_bot"] else None
            if not markup:
                continue
            found = [
                str(button["callback_data"])
                for row in markup.get("inline_keyboard", [])
                for button in row
                if str(button.get("callback_data", "")).startswith(prefix)
            ]
            if found:
                return found[index % len(found)], int(message["message_id"])
            break
        return prefix + "1", None

    def on_handed(self, user: int, at: float) -> None:
        """Note when user `user`'s waiting update was handed out (its first delivery)."""
        index = user - FIRST_USER_ID
        if 0 <= index < self.count and index in self.sent_at:
            self.handed_at.setdefault(index, at)

    def on_call(self, user: int, at: float) -> None:
        """Note a call of any method for `user`'s chat that arrived at `at`."""
        index = user - FIRST_USER_ID
        if 0 <= index < self.count and index in self.sent_at:
            # Calls are recorded as they end; the earliest arrival is the first call.
            self.first_call_at[index] = min(at, self.first_call_at.get(index, at))

    def on_reply(self, user: int, method: str, at: float) -> None:
        """Count a successful reply to `user`; when their step is answered, move them on."""
        index = user - FIRST_USER_ID
        if not 0 <= index < self.count:
            return
        self.got[index] += 1
        if method in ANSWERS and index in self.sent_at:
            queued = self.sent_at.pop(index)
            self.latencies.append((queued, at - queued, self.step[index] - 1))
            handed = self.handed_at.get(index, queued)
            first = min(self.first_call_at.get(index, at), at)
            self.parts.append((handed - queued, first - handed, at - first, at - queued))
        if self.got[index] == self.need[index]:
            self.step_done(index, at)

    def step_done(self, index: int, at: float) -> None:
        """User `index` has been answered: finished, next update now, or wait for a tick."""
        self.sent_at.pop(index, None)
        if self.step[index] >= PER_USER:
            self.finished += 1
            self.last_finished_at = at
        elif self.closed_loop:
            self.send_next(index)
        else:
            self.ready.append(index)

    def waiting(self) -> list[int]:
        """Users whose last update has not been answered in full."""
        return [i for i in range(self.count) if self.step[i] and self.got[i] < self.need[i]]

    def unstall(self) -> int:
        """Move on every user still waiting (the bot is quiet); return how many."""
        stuck = self.waiting()
        for index in stuck:
            self.got[index] = self.need[index]
            self.step_done(index, time.monotonic())
        self.stalls += len(stuck)
        return len(stuck)


class MixedFakeBotAPI(FakeBotAPI):
    """The fake Bot API telling the scripted users about every reply as it arrives."""

    users: Users | None = None
    # each getUpdates answered: (arrived, returned, updates handed out)
    polls: list[tuple[float, float, int]]

    def reset(self, *, delay: float | None = None, rate_limit: bool | None = None) -> None:
        """Forget everything, the polls too."""
        super().reset(delay=delay, rate_limit=rate_limit)
        self.polls = []

    async def _get_updates(self, params: dict[str, Any], arrived: float) -> list[dict[str, Any]]:
        batch = await super()._get_updates(params, arrived)
        now = time.monotonic()
        self.polls.append((arrived, now, len(batch)))
        users = self.users
        if users is not None:
            for update in batch:
                part = update.get("message") or update.get("callback_query") or {}
                user = part.get("from", {}).get("id")
                if isinstance(user, int):
                    users.on_handed(user, now)
        return batch

    def _record(
        self, arrived: float, method: str, status: int, params: dict[str, Any], body: Any
    ) -> None:
        super()._record(arrived, method, status, params, body)
        users = self.users
        if users is not None and status == 200:
            chat_id = self.calls[-1].chat_id
            if isinstance(chat_id, int):
                users.on_call(chat_id, arrived)
                if method in REPLY_METHODS:
                    users.on_reply(chat_id, method, arrived)


# -- the bots -----------------------------------------------------------------------------


def cpu_seconds(bot: BotProcess) -> float | None:
    """User and system CPU time the bot process has used, from /proc."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{bot.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


def base_env() -> dict[str, str]:
    """This environment without database or channel settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if k != "DATABASE_URL" and not k.startswith(("TELEGRAM_", "WECHAT_"))
    }


async def load_demo(work: Path, database_url: str | None) -> dict[str, str]:
    """`ffs-bot demo` into a fresh database; the environment for `ffs-bot run`."""
    env = base_env() | {
        "FFS_DATA_DIR": str(work),
        "FFS_HTTP_PORT": str(free_port()),
        "FFS_LOG_LEVEL": "WARNING",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    log_path = work / "demo.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            str(BIN / "ffs-bot"),
            "demo",
            env=env,
            cwd=work,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        code = await asyncio.wait_for(proc.wait(), 120)
    if code != 0:
        raise BotUnavailable(f"ffs-bot demo exited with {code}: {tail(log_path)}")
    return env


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


_databases = iter(range(1, 1_000_000))


@contextlib.asynccontextmanager
async def fresh_postgres(admin_url: str) -> AsyncIterator[str]:
    """A database created for one run on the server of `admin_url`, dropped afterwards."""
    import asyncpg  # the project's PostgreSQL driver; only needed here

    name = f"ffs_bench_mixed_{os.getpid()}_{next(_databases)}"
    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield with_database(admin_url, name)
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def started(
    config: BotConfig, api: FakeBotAPI, database: str, args: argparse.Namespace
) -> AsyncIterator[BotProcess]:
    """The bot of `config` running against `api`; ours on a fresh demo database."""
    if config.kind == "echo":
        async with running_bot(config, api) as bot:
            yield bot
        return
    if database == "postgresql":
        async with fresh_postgres(args.postgres) as url:

            async def prepare_pg(work: Path) -> dict[str, str]:
                return await load_demo(work, url)

            async with running_bot(config, api, prepare_pg) as bot:
                yield bot
        return

    async def prepare_sqlite(work: Path) -> dict[str, str]:
        return await load_demo(work, None)

    async with running_bot(config, api, prepare_sqlite) as bot:
        yield bot


# -- runs ---------------------------------------------------------------------------------


async def calibrate(
    api: MixedFakeBotAPI, config: BotConfig, database: str, args: argparse.Namespace, delay: float
) -> tuple[list[int], list[list[str]]]:
    """Replies per step (all users step by step, waiting for quiet) and one user's texts."""
    api.reset(delay=delay)
    users = Users(api, CALIBRATION_USERS, [0] * PER_USER, args.language_code)
    users.closed_loop = False
    api.users = users
    quiet = QUIET + 4 * delay
    counts: list[list[int]] = []
    transcript: list[list[str]] = []
    slowest: list[float] = []
    async with started(config, api, database, args) as bot:
        for step in range(PER_USER):
            before = list(users.got)
            seen = len(api.calls)
            for index in range(CALIBRATION_USERS):
                users.send_next(index)
            began = time.monotonic()
            deadline = began + 30 + 20 * delay
            # Quiet since this step began: the last call may be the previous step's.
            while not (
                api.unconfirmed == 0 and min(api.idle_for(), time.monotonic() - began) >= quiet
            ):
                if time.monotonic() > deadline:
                    raise BotUnavailable(f"calibration: no quiet after step {step + 1}")
                await bot.wait_for(api, lambda: False, 0.05)
            counts.append([g - b for g, b in zip(users.got, before, strict=True)])
            slowest.append(max((s for _, s, _ in users.latencies[-CALIBRATION_USERS:]), default=0))
            transcript.append(
                [
                    f"{c.method}: {(c.text or '').splitlines()[0][:70] if c.text else ''}"
                    for c in api.calls[seen:]
                    if c.chat_id == FIRST_USER_ID and c.method in REPLY_METHODS
                ]
            )
        problems = error_summary(api)
    api.users = None
    if args.show_flow:
        print("    slowest answer per step (ms):", [round(1000 * s) for s in slowest])
    if problems:
        raise BotUnavailable(f"calibration: errors {problems}")
    expected = [min(step) for step in counts]
    uneven = [i + 1 for i, step in enumerate(counts) if min(step) != max(step)]
    if 0 in expected:
        raise BotUnavailable(
            f"calibration: no reply at step {expected.index(0) + 1}: {counts} {transcript}"
        )
    if uneven:
        print(f"    calibration: uneven replies at steps {uneven}: {counts}", flush=True)
    return expected, transcript


async def throughput_run(
    api: MixedFakeBotAPI,
    config: BotConfig,
    database: str,
    args: argparse.Namespace,
    delay: float,
    expected: list[int],
    count: int,
    probe_seconds: float | None = None,
) -> Run:
    """All `count` users at once, each answered update followed by the user's next.

    With `probe_seconds`, a probe: it ends then, and the rate counts the answered updates.
    """
    api.reset(delay=delay)
    users = Users(api, count, expected, args.language_code)
    quiet = 1.0 + 4 * delay
    async with started(config, api, database, args) as bot:
        api.users = users
        t0, cpu0, own0 = time.monotonic(), cpu_seconds(bot), time.process_time()
        for index in range(count):
            users.send_next(index)
        deadline = t0 + (probe_seconds or args.max_run_seconds)
        note = ""
        while users.finished < count:
            await bot.wait_for(api, lambda: users.finished >= count, 0.25)
            if users.finished >= count:
                break
            if api.unconfirmed == 0 and api.idle_for() >= quiet:
                users.unstall()
            if time.monotonic() > deadline:
                if not probe_seconds:
                    note = f"timed out: {users.finished}/{count} users finished"
                break
        api.users = None
        rss, cpu1, own1, t1 = (
            bot.peak_rss_kb(),
            cpu_seconds(bot),
            time.process_time(),
            time.monotonic(),
        )
    end = t1 if probe_seconds and users.finished < count else users.last_finished_at
    seconds = max(end - (api.first_batch_at or t0), 1e-9)
    bot_cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    updates = sum(users.step) - len(users.waiting())  # answered in full
    return Run(
        users=count,
        updates=updates,
        seconds=seconds,
        rate=updates / seconds,
        peak_rss_kb=rss,
        stalls=users.stalls,
        errors=error_summary(api),
        bot_cpu_ms=1000 * bot_cpu / updates if bot_cpu is not None else None,
        bot_cpu_share=bot_cpu / (t1 - t0) if bot_cpu is not None else None,
        server_cpu=(own1 - own0) / (t1 - t0),
        note=note,
    )


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of sorted values."""
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


async def latency_run(
    api: MixedFakeBotAPI,
    config: BotConfig,
    database: str,
    args: argparse.Namespace,
    delay: float,
    expected: list[int],
    rate: float,
) -> Run:
    """Updates at a fixed `rate` for --latency-seconds; latency of each to its answer."""
    api.reset(delay=delay)
    users = Users(api, args.users, expected, args.language_code)
    users.closed_loop = False
    late = 0
    async with started(config, api, database, args) as bot:
        api.users = users
        interval = 1 / rate
        t0 = time.monotonic()
        next_tick = t0
        sent = 0
        new_user = 0
        while (now := time.monotonic()) < t0 + args.latency_seconds:
            while next_tick <= now:
                next_tick += interval
                if users.ready:
                    users.send_next(users.ready.popleft())
                elif new_user < users.count:
                    users.send_next(new_user)
                    new_user += 1
                else:
                    late += 1
                    continue
                sent += 1
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
        await bot.wait_for(api, lambda: not users.sent_at, 10 + 40 * delay)
        api.users = None
        rss = bot.peak_rss_kb()
    measured = sorted(s for queued, s, _ in users.latencies if queued >= t0 + WARM_UP)
    if args.show_flow:
        for number, (kind, value) in enumerate(FLOW):
            times = sorted(s for q, s, i in users.latencies if i == number and q >= t0 + WARM_UP)
            if times:
                print(
                    f"{'':8}{kind} {value!r}: {len(times)} answers, median "
                    f"{1000 * statistics.median(times):.0f} ms, max {1000 * times[-1]:.0f} ms"
                )
    if args.show_flow:
        show_parts(users, api, t0 + WARM_UP)
    unanswered = len(users.sent_at)
    latency = {f"p{p}": 1000 * percentile(measured, p) for p in (50, 95, 99)} if measured else {}
    if measured:
        latency["max"] = 1000 * measured[-1]
    return Run(
        users=users.started,
        updates=sent,
        seconds=args.latency_seconds,
        rate=sent / args.latency_seconds,
        peak_rss_kb=rss,
        stalls=unanswered,
        errors=error_summary(api),
        latency_ms=latency,
        offered_rate=rate,
        late_ticks=late,
        note=f"{unanswered} updates unanswered" if unanswered else "",
    )


def show_parts(users: Users, api: MixedFakeBotAPI, since: float) -> None:
    """Print what the latencies are made of, overall and in the slowest 5 %."""
    measured = [
        p for (queued, *_), p in zip(users.latencies, users.parts, strict=True) if queued >= since
    ]
    if not measured:
        return
    names = ("getUpdates wait", "bot to first call", "first call to answer", "total")
    by_total = sorted(measured, key=lambda p: p[3])
    tail = by_total[int(0.95 * len(by_total)) :]
    print(f"{'':8}latency parts, ms: p50 / p95 / p99 of each part; mean in the slowest 5 %")
    for i, name in enumerate(names):
        values = sorted(p[i] for p in measured)
        print(
            f"{'':10}{name:<22} {1000 * percentile(values, 50):6.0f} "
            f"{1000 * percentile(values, 95):6.0f} {1000 * percentile(values, 99):6.0f}"
            f"   tail mean {1000 * statistics.mean(p[i] for p in tail):6.0f}"
        )
    polls = [(a, r, n) for a, r, n in api.polls if a >= since]
    if len(polls) > 1:
        # From a batch handed out to the next getUpdates arriving: the bot storing the batch,
        # and whatever else its event loop runs before the next request is written.
        gaps = sorted(b[0] - a[1] for a, b in itertools.pairwise(polls))
        held = sorted(r - a for a, r, _ in polls)
        sizes = sorted(n for _, _, n in polls)
        print(
            f"{'':10}polls: {len(polls)}, batch median {statistics.median(sizes):.0f} max "
            f"{sizes[-1]}; bot between polls p50 {1000 * percentile(gaps, 50):.0f} p95 "
            f"{1000 * percentile(gaps, 95):.0f} max {1000 * gaps[-1]:.0f} ms; poll held p50 "
            f"{1000 * percentile(held, 50):.0f} max {1000 * held[-1]:.0f} ms"
        )


def describe_run(label: str, run: Run) -> str:
    """A progress line."""
    extra = [
        f"{k}={v}"
        for k, v in (
            ("stalls", run.stalls),
            ("errors", sum(run.errors.values())),
            ("late ticks", run.late_ticks),
        )
        if v
    ]
    if run.latency_ms:
        lat = ", ".join(f"{k} {v:.1f} ms" for k, v in run.latency_ms.items())
        head = f"{run.updates} updates at {run.offered_rate:.0f}/s from {run.users} users: {lat}"
    else:
        head = (
            f"{run.rate:7.1f} updates/s ({run.updates} updates from {run.users} users in "
            f"{run.seconds:.1f} s)"
        )
    rss = f", peak RSS {run.peak_rss_kb / 1024:.0f} MiB" if run.peak_rss_kb else ""
    if run.bot_cpu_ms and run.bot_cpu_share:
        rss += f", bot CPU {run.bot_cpu_ms:.2f} ms/update ({run.bot_cpu_share:.0%})"
    if run.server_cpu:
        rss += f", server CPU {run.server_cpu:.0%}"
    return (
        f"{label} {head}{rss}"
        + (f", {', '.join(extra)}" if extra else "")
        + (f", {run.note}" if run.note else "")
    )


async def measure_config(
    api: MixedFakeBotAPI,
    config: BotConfig,
    database: str,
    args: argparse.Namespace,
    delay_ms: float,
) -> Result:
    """Calibrate, then R throughput runs; for ffs-bot also R latency runs at half load."""
    result = Result(config, delay_ms, database)
    delay = delay_ms / 1000
    label = f"{delay_ms:>3g} ms  {result.label:<18}"
    try:
        expected, transcript = await calibrate(api, config, database, args, delay)
        print(f"{label} calibrated: {sum(expected)} replies per user, by step {expected}")
        if args.show_flow:
            for (kind, value), calls in zip(FLOW, transcript, strict=True):
                print(f"{'':8}{kind} {value!r}: " + " | ".join(calls))
        result.users = args.users
        if config.kind == "echo":
            probe = await throughput_run(
                api, config, database, args, delay, expected, args.users, PROBE_SECONDS
            )
            affordable = int(probe.rate * args.budget / PER_USER) // 10 * 10
            # Enough users to keep every one of its concurrent handlers busy.
            least = max(MIN_ECHO_USERS, 2 * config.concurrency)
            result.users = max(least, min(args.users, affordable))
            print(f"{label} probe: {probe.rate:.0f}/s, measuring {result.users} users", flush=True)
        # With a fixed --latency-rate, runs back to back offer the same load whatever the
        # machine's speed in the moment; no throughput runs are needed for it.
        for i in range(0 if args.latency_rate and config.kind == "ours" else args.repeats):
            run = await throughput_run(api, config, database, args, delay, expected, result.users)
            result.runs.append(run)
            print(describe_run(f"{label} run {i + 1}/{args.repeats}:", run), flush=True)
        offered = args.latency_rate or (result.rate or 0) / 2
        if config.kind == "ours" and offered and args.latency_seconds > 0:
            for i in range(args.repeats):
                run = await latency_run(api, config, database, args, delay, expected, offered)
                result.latency_runs.append(run)
                print(describe_run(f"{label} half load {i + 1}/{args.repeats}:", run), flush=True)
    except BotUnavailable as err:
        result.failure = str(err)
        print(f"{label} NOT MEASURED: {err}", flush=True)
    return result


# -- report -------------------------------------------------------------------------------


def report(results: list[Result], args: argparse.Namespace) -> None:
    """The table of medians and the targets."""
    print()
    print(
        f"Median of {args.repeats} runs; mixed traffic, {PER_USER} updates per user. Ratios: "
        "to the sequential echo bot at the same delay, and to the best concurrent echo bot "
        "at the same delay. Latency at half of the bot's median updates/s."
    )
    header = (
        f"{'delay':>6}  {'bot':<18} {'users':>5} {'updates/s':>9} {'/echo seq':>9} "
        f"{'/best conc':>10} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'peak RSS':>8} "
        f"{'stalls':>6} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    references: dict[float, tuple[float | None, float | None]] = {}
    for delay_ms in sorted({r.delay_ms for r in results}):
        group = [r for r in results if r.delay_ms == delay_ms]
        seq = next((r.rate for r in group if r.config.name == "echo seq"), None)
        concurrent = [r for r in group if r.config.kind == "echo" and r.config.concurrency > 1]
        best = max(concurrent, key=lambda r: r.rate or 0, default=None)
        references[delay_ms] = (seq, best.rate if best else None)
        for r in group:
            name = r.label + (" *" if r is best else "")
            if r.failure:
                print(f"{delay_ms:>3g} ms  {name:<18} not measured: {r.failure[:120]}")
                continue
            cells = [
                f"{v:.1f}" if (v := r.latency(k)) is not None else ""
                for k in ("p50", "p95", "p99")
            ]
            rss = f"{r.peak_rss_mb:.0f} MiB" if r.peak_rss_mb else "-"
            rate = f"{r.rate:.1f}" if r.rate else "incomplete"
            stalls = sum(run.stalls for run in r.runs + r.latency_runs)
            errors = sum(sum(run.errors.values()) for run in r.runs + r.latency_runs)
            print(
                f"{delay_ms:>3g} ms  {name:<18} {r.users:>5} {rate:>9} {ratio(r.rate, seq):>9} "
                f"{ratio(r.rate, best.rate if best else None):>10} {cells[0]:>7} {cells[1]:>7} "
                f"{cells[2]:>7} {rss:>8} {stalls:>6} {errors:>6}"
            )
    print("* best concurrent echo bot at that delay")
    for r in results:
        if r.config.kind != "ours" or r.failure:
            continue
        seq, best = references.get(r.delay_ms, (None, None))
        p99 = r.latency("p99")
        bound = 100 + r.delay_ms
        rate_target = (
            f"{ratio(r.rate, seq)} of the sequential echo bot (target >= 0.75x)"
            if r.delay_ms == 0
            else f"{ratio(r.rate, best)} of the best concurrent echo bot (target >= 1.0x)"
        )
        p99_text = f"{p99:.1f} ms" if p99 is not None else "-"
        print(
            f"ffs-bot {r.database} at {r.delay_ms:g} ms: {rate_target}; p99 at half load "
            f"{p99_text} (target <= {bound:g} ms)"
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration")
    parser.add_argument("--delays", default="0,50", help="ms per API call, comma-separated")
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="for ffs-bot: sqlite, postgresql"
    )
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a server where a database can be created (and dropped) for each run",
    )
    parser.add_argument("--concurrency", default="4,32", help="echo bot concurrencies")
    parser.add_argument("--skip-echo", action="store_true", help="measure ffs-bot run only")
    parser.add_argument("--skip-ours", action="store_true", help="measure the echo bots only")
    parser.add_argument(
        "--budget", type=float, default=20.0, help="echo bots: fewer users if a run is slower"
    )
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="0: no latency runs")
    parser.add_argument(
        "--latency-rate",
        type=float,
        default=0.0,
        help="updates/s for the latency runs instead of half the measured rate (no throughput "
        "runs of ffs-bot then)",
    )
    parser.add_argument("--max-run-seconds", type=float, default=600.0)
    parser.add_argument("--language-code", default="zh-hans", help="from.language_code")
    parser.add_argument("--show-flow", action="store_true", help="print what one user is sent")
    parser.add_argument("--json", type=Path, help="also write all runs to this file")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> list[Result]:
    """Measure every configuration at every delay."""
    configs: list[tuple[BotConfig, str]] = []
    if not args.skip_echo:
        configs.append((BotConfig("echo seq", "echo", 1), ""))
        configs += [
            (BotConfig(f"echo c{n}", "echo", n), "")
            for n in (int(x) for x in args.concurrency.split(",") if x)
        ]
    if not args.skip_ours:
        configs += [(BotConfig("ffs-bot", "ours"), db) for db in args.databases.split(",") if db]
    results: list[Result] = []
    async with MixedFakeBotAPI(token=TOKEN) as api:
        print(f"fake Bot API at {api.base_url}", flush=True)
        for delay_ms in (float(d) for d in args.delays.split(",") if d):
            for config, database in configs:
                results.append(await measure_config(api, config, database, args, delay_ms))
    return results


def main() -> None:
    """Run the benchmark and print the report."""
    args = parse_args()
    started_at = time.monotonic()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    results = asyncio.run(run(args))
    report(results, args)
    print(f"load average at end: {os.getloadavg()}; total {time.monotonic() - started_at:.0f} s")
    if args.json:
        rows = [
            {
                **asdict(r),
                "median_rate": r.rate,
                "median_peak_rss_mb": r.peak_rss_mb,
                "latency_ms": {k: r.latency(k) for k in ("p50", "p95", "p99")},
            }
            for r in results
        ]
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
