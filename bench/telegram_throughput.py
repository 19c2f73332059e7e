"""Telegram throughput: updates/s of onboarding traffic through PTB echo bots and `ffs-bot run`.

Starts the fake Bot API server (bench/fake_bot_api.py) in this process; for each API delay
and each bot configuration it starts the bot as a subprocess, queues onboarding traffic for
U users (`/start f-SZ01`, press `lang:zh_Hans`, press `consent:yes`, text `王姐`: per-user
order kept, users interleaved) and measures from the first getUpdates that hands out updates
to the last expected reply. Configurations: the echo bot sequential, the echo bot with
`concurrent_updates(N)`, and `ffs-bot run` (on a fresh SQLite database with the demo
factories). Each is calibrated once (25 users: how many replies a user gets, rough speed),
then measured R times; the table shows medians.

    .venv/bin/python bench/telegram_throughput.py [--users 1000] [--repeats 3] [--delays 0,50]
        [--concurrency 4,8,16,32] [--skip-ours] [--budget 15] [--rate-limit] [--json out.json]

A configuration that would need more than --budget seconds per run at U users is measured
with fewer users (the table says how many); the sequential echo bot at 50 ms is one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_bot_api import REPLY_METHODS, SENDING_METHODS, Call, FakeBotAPI

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN = "123:ABC"
ONBOARDING: tuple[tuple[str, str], ...] = (
    ("text", "/start f-SZ01"),
    ("press", "lang:zh_Hans"),
    ("press", "consent:yes"),
    ("text", "王姐"),
)
PER_USER = len(ONBOARDING)
CALIBRATION_USERS = 25
FIRST_USER_ID = 700_000_001
READY_WITHIN = 30.0
QUIET = 1.5  # calibration: no reply for this long (plus 4 delays) means the bot is done
SETTLE = 0.3  # after a measured run: wait this long (plus 2 delays) for surplus replies


class BotUnavailable(Exception):
    """The bot process could not be started or ended before it polled."""


@dataclass(frozen=True)
class BotConfig:
    """One bot to measure: the echo bot at a concurrency, or ours."""

    name: str
    kind: str  # "echo" or "ours"
    concurrency: int = 1


@dataclass
class Shape:
    """What calibration found: replies per user, sendMessage texts per user, rough speed."""

    replies_per_user: int
    sends_per_user: int  # sendMessage calls
    sending_per_user: int  # sendMessage and edits: what Telegram's flood limits count
    texts: list[str] | None  # the sendMessage texts every user got, if all got the same
    rate: float


@dataclass
class Run:
    """One measured run."""

    users: int
    complete: bool
    seconds: float
    rate: float
    peak_rss_kb: int | None
    too_many: int
    errors: dict[str, int]
    lost: int
    duplicated: int
    surplus_replies: int
    redeliveries: int
    server_cpu: float
    note: str = ""


@dataclass
class Result:
    """All runs of one configuration at one delay."""

    config: BotConfig
    delay_ms: float
    users: int = 0
    runs: list[Run] = field(default_factory=list)
    failure: str = ""

    @property
    def rate(self) -> float | None:
        """Median updates/s of the complete runs."""
        rates = [r.rate for r in self.runs if r.complete]
        return statistics.median(rates) if rates else None

    @property
    def peak_rss_mb(self) -> float | None:
        """Median peak RSS of the bot process, in MiB."""
        rss = [r.peak_rss_kb for r in self.runs if r.peak_rss_kb]
        return statistics.median(rss) / 1024 if rss else None


# -- the bot process ----------------------------------------------------------------------


class BotProcess:
    """A bot running as a subprocess against the fake server, with its log in a file."""

    def __init__(self, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path
        self.exited = asyncio.ensure_future(proc.wait())
        self.startup: list[str] = []  # API calls before its first getUpdates
        self.shutdown: list[str] = []  # API calls after SIGINT

    def log_tail(self) -> str:
        """The last lines of the bot's output."""
        return tail(self.log_path)

    def peak_rss_kb(self) -> int | None:
        """VmHWM (peak resident set size) of the process, from /proc."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return None

    async def wait_for(
        self, api: FakeBotAPI, predicate: Callable[[], bool], within: float
    ) -> bool:
        """Wait until `predicate()` holds; False after `within` s; BotUnavailable if it died."""
        waiting = asyncio.ensure_future(api.wait_until(predicate, within))
        await asyncio.wait({waiting, self.exited}, return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            waiting.cancel()
            raise BotUnavailable(
                f"exited with code {self.proc.returncode}: {self.log_tail() or 'no output'}"
            )
        return waiting.result()

    async def stop(self) -> None:
        """SIGINT (PTB's graceful stop), then SIGKILL if it is still running after 15 s."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(asyncio.shield(self.exited), 15)
            except TimeoutError:
                self.proc.kill()
        await self.exited


def tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log file, on one line."""
    text = path.read_text(errors="replace") if path.exists() else ""
    return " | ".join(text.strip().splitlines()[-lines:])


def describe(call: Call) -> str:
    """A call as 'method(key=value, ...) -> status' for the startup/shutdown notes."""
    keys = ("offset", "timeout", "drop_pending_updates", "url")
    args = ", ".join(f"{k}={call.params[k]}" for k in keys if k in call.params)
    return f"{call.method}({args}) -> {call.status}"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def prepare_ours(data_dir: Path, log_path: Path) -> dict[str, str]:
    """Import the demo factories into a fresh data dir; the environment for `ffs-bot run`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "DATABASE_URL" and not k.startswith(("TELEGRAM_", "WECHAT_"))
    }
    env |= {
        "FFS_DATA_DIR": str(data_dir),
        "FFS_HTTP_PORT": str(free_port()),
        "FFS_LOG_LEVEL": "WARNING",
    }
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            str(BIN / "ffs-bot"),
            "factory",
            "import",
            str(REPO / "ffs_bot/demo/factories.csv"),
            env=env,
            cwd=data_dir,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        code = await asyncio.wait_for(proc.wait(), 60)
    if code != 0:
        raise BotUnavailable(f"factory import exited with {code}: {tail(log_path)}")
    return env


@contextlib.asynccontextmanager
async def running_bot(
    config: BotConfig,
    api: FakeBotAPI,
    prepare: Callable[[Path], Awaitable[dict[str, str]]] | None = None,
) -> AsyncIterator[BotProcess]:
    """Start the bot, wait for its first getUpdates, stop it (gracefully) afterwards.

    `prepare(work_dir)` sets up ffs-bot's database and returns its environment; by default
    a fresh SQLite data dir with the demo factories.
    """
    with tempfile.TemporaryDirectory(prefix="ffs-tg-bench-") as tmp:
        work = Path(tmp)
        log_path = work / "bot.log"
        if config.kind == "echo":
            argv = [
                sys.executable,
                str(REPO / "bench/echo_bot.py"),
                f"--base-url={api.base_url}",
                f"--token={TOKEN}",
                f"--concurrency={config.concurrency}",
                "--max-seconds=900",
            ]
            env = dict(os.environ)
        else:
            if prepare is None:
                env = await prepare_ours(work, work / "import.log")
            else:
                env = await prepare(work)
            env |= {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": api.base_url}
            argv = [str(BIN / "ffs-bot"), "run"]
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                *argv, env=env, cwd=work, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        bot = BotProcess(proc, log_path)
        try:
            if not await bot.wait_for(api, lambda: api.polls_started > 0, READY_WITHIN):
                seen = ", ".join(sorted({c.method for c in api.calls})) or "none"
                raise BotUnavailable(
                    f"no getUpdates within {READY_WITHIN:.0f} s (calls seen: {seen}); "
                    f"{bot.log_tail()}"
                )
            bot.startup = [c.method for c in api.calls]
            yield bot
        finally:
            before = len(api.calls)
            await bot.stop()
            await asyncio.sleep(0.05)  # let the server record the last calls
            bot.shutdown = [describe(c) for c in api.calls[before:]]


# -- traffic and measurement --------------------------------------------------------------


def enqueue_onboarding(
    api: FakeBotAPI, users: int, order: str, language_code: str, seed: int = 1
) -> None:
    """Queue the four onboarding updates of each user, keeping each user's order."""
    ids = [FIRST_USER_ID + i for i in range(users)]
    if order == "grouped":
        slots = [u for u in ids for _ in ONBOARDING]
    elif order == "round-robin":
        slots = [u for _ in ONBOARDING for u in ids]
    else:
        slots = [u for u in ids for _ in ONBOARDING]
        random.Random(seed).shuffle(slots)
    step: Counter[int] = Counter()
    for user in slots:
        kind, value = ONBOARDING[step[user]]
        step[user] += 1
        if kind == "text":
            api.enqueue_message(user, value, language_code=language_code)
        else:
            api.enqueue_press(user, value, language_code=language_code)


def error_summary(api: FakeBotAPI) -> dict[str, int]:
    """Failed calls as 'method status description' -> count, leaving out 429s (counted on
    their own) and the 409 that ends a long poll when the next one starts."""
    return {
        f"{method} {status} {description[:60]}": n
        for (method, status, description), n in api.errors().items()
        if status != 429 and not (method == "getUpdates" and status == 409)
    }


async def measure(
    api: FakeBotAPI,
    config: BotConfig,
    args: argparse.Namespace,
    delay: float,
    users: int,
    shape: Shape | None,
) -> tuple[Run, BotProcess]:
    """One run: start the bot, queue traffic, wait for the replies; with no shape, calibrate.

    Calibration runs without the rate limit and ends when the bot has confirmed every update
    and gone quiet. A measured run ends when the expected replies arrived and every update
    is confirmed; or, short of that, when the bot went quiet or --max-run-seconds passed.
    """
    api.reset(delay=delay, rate_limit=args.rate_limit and shape is not None)
    quiet = QUIET + 4 * delay + (2.0 if api.rate_limit else 0.0)
    async with running_bot(config, api) as bot:
        cpu0, wall0 = time.process_time(), time.monotonic()
        enqueue_onboarding(api, users, args.order, args.language_code)
        expected = shape.replies_per_user * users if shape else 0
        within = args.max_run_seconds
        if shape:
            within = min(within, max(30.0, 4 * users * PER_USER / projected_rate(shape, args)))
        deadline = wall0 + within
        note = ""
        while True:
            slice_ = max(0.0, min(0.25, deadline - time.monotonic()))
            if shape and await bot.wait_for(
                api,
                lambda: api.count(*REPLY_METHODS) >= expected and api.unconfirmed == 0,
                slice_,
            ):
                break
            if not shape:
                await bot.wait_for(api, lambda: False, slice_)
            if api.unconfirmed == 0 and api.idle_for() >= quiet:
                if shape:
                    note = f"bot went quiet with {api.count(*REPLY_METHODS)}/{expected} replies"
                break
            if time.monotonic() >= deadline:
                note = f"timed out after {within:.0f} s: {api.count(*REPLY_METHODS)} replies"
                break
        cpu = (time.process_time() - cpu0) / max(time.monotonic() - wall0, 1e-9)
        if shape and not note:
            await asyncio.sleep(SETTLE + 2 * delay)  # surplus replies, if any, arrive now
        times = api.reply_times()
        end = times[expected - 1] if shape and len(times) >= expected else max(times, default=0)
        seconds = max(end - (api.first_batch_at or wall0), 1e-9)
        lost, duplicated = deliveries(api, shape, users) if shape else (0, 0)
        run = Run(
            users=users,
            complete=not note,
            seconds=seconds,
            rate=users * PER_USER / seconds,
            peak_rss_kb=bot.peak_rss_kb(),
            too_many=api.too_many_requests,
            errors=error_summary(api),
            lost=lost,
            duplicated=duplicated,
            surplus_replies=max(0, api.count(*REPLY_METHODS) - expected) if shape else 0,
            redeliveries=api.redeliveries,
            server_cpu=cpu,
            note=note,
        )
        return run, bot


def deliveries(api: FakeBotAPI, shape: Shape, users: int) -> tuple[int, int]:
    """Lost and duplicated sendMessage texts over all users, against the calibration."""
    ids = range(FIRST_USER_ID, FIRST_USER_ID + users)
    if shape.texts is not None:
        report = api.compare_deliveries(dict.fromkeys(ids, shape.texts))
        return report.lost_count, report.duplicated_count
    sends = api.sent_by_chat()
    counts = [len(sends.get(user, ())) for user in ids]
    lost = sum(max(0, shape.sends_per_user - n) for n in counts)
    return lost, sum(max(0, n - shape.sends_per_user) for n in counts)


def projected_rate(shape: Shape, args: argparse.Namespace) -> float:
    """Updates/s to expect: the calibration's, capped by the fake's 30 sends/s if limited."""
    if args.rate_limit and shape.sending_per_user:
        return min(shape.rate, 30 * PER_USER / shape.sending_per_user)
    return shape.rate


def shape_from(api: FakeBotAPI, run: Run, users: int) -> Shape:
    """Replies per user and per-user texts from a calibration run's calls."""
    replies = api.count(*REPLY_METHODS)
    sends = api.sent_by_chat()
    per_user = [sends.get(FIRST_USER_ID + i, []) for i in range(users)]
    if replies == 0 or replies % users:
        raise BotUnavailable(
            f"calibration: {replies} replies to {users} users is not a whole number per user"
        )
    uniform = all(Counter(texts) == Counter(per_user[0]) for texts in per_user)
    return Shape(
        replies_per_user=replies // users,
        sends_per_user=len(per_user[0]),
        sending_per_user=api.count(*SENDING_METHODS) // users,
        texts=list(per_user[0]) if uniform else None,
        rate=run.rate,
    )


async def measure_config(
    api: FakeBotAPI, config: BotConfig, args: argparse.Namespace, delay_ms: float
) -> Result:
    """Calibrate, choose the user count, measure R times; failures end up in the result."""
    result = Result(config, delay_ms)
    delay = delay_ms / 1000
    label = f"{delay_ms:g} ms  {config.name:<10}"
    try:
        calibration, bot = await measure(api, config, args, delay, CALIBRATION_USERS, None)
        if not calibration.complete:
            raise BotUnavailable(f"calibration {calibration.note}")
        shape = shape_from(api, calibration, CALIBRATION_USERS)
        result.users = args.users
        rate = projected_rate(shape, args)
        if args.users * PER_USER / rate > args.budget:
            affordable = int(rate * args.budget / PER_USER) // 10 * 10
            result.users = max(CALIBRATION_USERS, affordable)
        print(
            f"{label} calibrated: {shape.replies_per_user} replies/user "
            f"({shape.sends_per_user} sendMessage), ~{shape.rate:.0f} updates/s, "
            f"measuring {result.users} users\n{'':18}startup calls: {', '.join(bot.startup)}"
            f"\n{'':18}shutdown calls: {'; '.join(bot.shutdown)}",
            flush=True,
        )
        for i in range(args.repeats):
            run, _ = await measure(api, config, args, delay, result.users, shape)
            result.runs.append(run)
            problems = ", ".join(
                f"{k}={v}"
                for k, v in (
                    ("lost", run.lost),
                    ("dup", run.duplicated),
                    ("429s", run.too_many),
                    ("errors", sum(run.errors.values())),
                    ("redelivered", run.redeliveries),
                )
                if v
            )
            print(
                f"{label} run {i + 1}/{args.repeats}: {run.rate:7.1f} updates/s "
                f"({run.users * PER_USER} updates in {run.seconds:.2f} s), "
                f"peak RSS {(run.peak_rss_kb or 0) / 1024:.0f} MiB, "
                f"server CPU {run.server_cpu:.0%}"
                + (f", {problems}" if problems else "")
                + (f", {run.note}" if run.note else ""),
                flush=True,
            )
            for error, n in run.errors.items():
                print(f"{'':18}{n} x {error}", flush=True)
    except BotUnavailable as err:
        result.failure = str(err)
        print(f"{label} NOT MEASURED: {err}", flush=True)
    return result


# -- report -------------------------------------------------------------------------------


def ratio(value: float | None, reference: float | None) -> str:
    """value / reference as '0.42x', or '-'."""
    return f"{value / reference:.2f}x" if value and reference else "-"


def report(results: list[Result], args: argparse.Namespace) -> None:
    """Print the table of medians and the two headline ratios."""
    by_delay: dict[float, list[Result]] = {}
    for r in results:
        by_delay.setdefault(r.delay_ms, []).append(r)
    print()
    print(
        f"Median of {args.repeats} runs; onboarding traffic, {PER_USER} updates per user, "
        f"order {args.order}{', rate limit on' if args.rate_limit else ''}. Ratios are to "
        f"the sequential echo bot and to the best concurrent echo bot at the same delay."
    )
    header = (
        f"{'delay':>7}  {'config':<10} {'users':>5} {'updates/s':>10} "
        f"{'/echo seq':>9} {'/best conc':>10} {'peak RSS':>9} {'429s':>5} {'errors':>6} "
        f"{'lost/dup':>8}"
    )
    print(header)
    print("-" * len(header))
    references: dict[float, tuple[float | None, Result | None]] = {}
    for delay_ms, group in by_delay.items():
        seq = next((r.rate for r in group if r.config.name == "echo seq"), None)
        concurrent = [r for r in group if r.config.kind == "echo" and r.config.concurrency > 1]
        best = max((r for r in concurrent if r.rate), key=lambda r: r.rate or 0, default=None)
        references[delay_ms] = (seq, best)
        for r in group:
            name = r.config.name + (" *" if r is best else "")
            if r.failure:
                print(f"{delay_ms:>4g} ms  {name:<10} not measured: {r.failure[:120]}")
                continue
            complete = [run for run in r.runs if run.complete]
            rss = f"{r.peak_rss_mb:.0f} MiB" if r.peak_rss_mb else "-"
            rate = f"{r.rate:.1f}" if r.rate else "incomplete"
            lost = sum(run.lost for run in r.runs)
            dup = sum(run.duplicated for run in r.runs)
            errors = sum(sum(run.errors.values()) for run in r.runs)
            print(
                f"{delay_ms:>4g} ms  {name:<10} {r.users:>5} {rate:>10} "
                f"{ratio(r.rate, seq):>9} {ratio(r.rate, best.rate if best else None):>10} "
                f"{rss:>9} {sum(run.too_many for run in r.runs):>5} {errors:>6} "
                f"{f'{lost}/{dup}':>8}"
                + ("" if len(complete) == len(r.runs) else f"  ({len(complete)} complete)")
            )
    print("* best concurrent echo bot at that delay")
    reduced = [r for r in results if r.users and r.users < args.users]
    for r in reduced:
        print(
            f"note: {r.config.name} at {r.delay_ms:g} ms measured with {r.users} users, not "
            f"{args.users}, to keep a run under --budget {args.budget:g} s"
        )
    ours = [r for r in results if r.config.kind == "ours"]
    for r in ours:
        if r.failure:
            print(f"ffs-bot run at {r.delay_ms:g} ms was not measured: {r.failure}")
            continue
        seq0 = references.get(0.0, (None, None))[0]
        best50 = references.get(50.0, (None, None))[1]
        print(
            f"ffs-bot run at {r.delay_ms:g} ms: {ratio(r.rate, seq0)} of the sequential echo "
            f"bot at 0 ms, {ratio(r.rate, best50.rate if best50 else None)} of the best "
            "concurrent echo bot at 50 ms"
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--delays", default="0,50", help="ms per API call, comma-separated")
    parser.add_argument("--concurrency", default="4,8,16,32", help="echo bot concurrencies")
    parser.add_argument("--skip-ours", action="store_true", help="measure the echo bot only")
    parser.add_argument("--skip-echo", action="store_true", help="measure ffs-bot run only")
    parser.add_argument(
        "--budget", type=float, default=15.0, help="target seconds per run; fewer users if slower"
    )
    parser.add_argument("--max-run-seconds", type=float, default=300.0)
    parser.add_argument(
        "--order",
        choices=["random", "round-robin", "grouped"],
        default="random",
        help="how users interleave in the queue (each user's updates stay in order)",
    )
    parser.add_argument("--language-code", default="zh-hans", help="from.language_code")
    parser.add_argument("--rate-limit", action="store_true", help="30/s overall, 1/s per chat")
    parser.add_argument("--json", type=Path, help="also write all runs to this file")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> list[Result]:
    """Measure every configuration at every delay."""
    configs: list[BotConfig] = []
    if not args.skip_echo:
        configs.append(BotConfig("echo seq", "echo", 1))
        configs += [
            BotConfig(f"echo c{n}", "echo", n)
            for n in (int(x) for x in args.concurrency.split(",") if x)
        ]
    if not args.skip_ours:
        configs.append(BotConfig("ffs-bot", "ours"))
    results: list[Result] = []
    async with FakeBotAPI(token=TOKEN) as api:
        print(f"fake Bot API at {api.base_url}", flush=True)
        ours_failure = ""
        for delay_ms in (float(d) for d in args.delays.split(",") if d):
            for config in configs:
                if config.kind == "ours" and ours_failure.startswith("exited"):
                    result = Result(config, delay_ms, failure=ours_failure)
                    print(f"{delay_ms:g} ms  ffs-bot    NOT MEASURED: {ours_failure}")
                else:
                    result = await measure_config(api, config, args, delay_ms)
                if config.kind == "ours":
                    ours_failure = result.failure
                results.append(result)
    return results


def main() -> None:
    """Run the benchmark and print the report."""
    args = parse_args()
    started = time.monotonic()
    results = asyncio.run(run(args))
    report(results, args)
    print(f"total {time.monotonic() - started:.0f} s")
    if args.json:
        rows = [
            {**asdict(r), "median_rate": r.rate, "median_peak_rss_mb": r.peak_rss_mb}
            for r in results
        ]
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
