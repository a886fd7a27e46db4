"""The desk against a bare PTB echo bot, side by side: both as subprocesses on loopback.

Each bot runs as its own process (`vraagbaak run --no-worker`, `python -m bench.echo_bot`)
against its own sandbox Bot API served from this process. The sandbox notes the moment every
sendMessage lands, so answer latency is read without polling. CPU and RSS come from psutil
over each bot's process tree (the desk's tree includes its embedded redis-server).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from aiohttp import web

from bench.stats import percentile
from bot.sandbox import SandboxTelegram, make_sandbox_app
from bot.sandbox.server import BOT_ID
from knowledge import snapshot

ROOT = Path(__file__).resolve().parent.parent
FEEDBACK_HELPS = "fb:1:"  # the desk's 'This helps' button marks an ordinary answer
EXPERT, SHOW = "expert", "sn:"  # "no ready-made guidance": an expert, the nearest snippets
START_TIMEOUT = 180.0
STOP_TIMEOUT = 20.0
MAX_QUESTION = 3000
LOAD_TIMEOUT = 180.0


# -- the stand-in Telegram ----------------------------------------------------------------


def answer_key(kind: str, message: dict[str, Any]) -> str | None:
    """What identifies an answer: the echoed text, or the snippet of the desk's answer (for
    "no ready-made guidance", the nearest snippets it offers)."""
    if kind == "echo":
        return message["text"]
    data = [button.get("data", "") for row in message.get("buttons", []) for button in row]
    for item in data:
        if item.startswith(FEEDBACK_HELPS):
            return item.removeprefix(FEEDBACK_HELPS)
    if EXPERT in data:
        return "no card: " + ",".join(d.removeprefix(SHOW) for d in data if d.startswith(SHOW))
    return None


class RecordingSandbox(SandboxTelegram):
    """The sandbox, noting when each bot message lands and which are answers."""

    def __init__(self, token: str, kind: str) -> None:
        super().__init__(token)
        self.kind = kind
        self.sent: dict[int, int] = defaultdict(int)  # sendMessage calls per chat
        self.answers: dict[int, list[tuple[float, str]]] = defaultdict(list)
        self.answer_count = 0
        self.target = 0
        self.reached = asyncio.Event()
        self.polled = asyncio.Event()

    def expect(self, total_answers: int) -> None:
        """Set `reached` once this many answers (counted from now on) have landed."""
        self.target = self.answer_count + total_answers
        self.reached.clear()
        if self.answer_count >= self.target:
            self.reached.set()

    async def api_getupdates(self, params: dict[str, Any]) -> Any:
        self.polled.set()
        return await super().api_getupdates(params)

    async def api_sendmessage(self, params: dict[str, Any]) -> Any:
        result = await super().api_sendmessage(params)
        now = time.perf_counter()
        chat_id = int(params["chat_id"])
        self.sent[chat_id] += 1
        user = self.users[chat_id]
        key = answer_key(self.kind, user.messages[-1].as_inbox())
        if key is not None:
            self.answers[chat_id].append((now, key))
            self.answer_count += 1
            if self.answer_count >= self.target:
                self.reached.set()
        return result


@contextlib.asynccontextmanager
async def serving(sandbox: SandboxTelegram) -> AsyncIterator[str]:
    """Serve a sandbox on a free loopback port; yields its base URL."""
    runner = web.AppRunner(make_sandbox_app(sandbox), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


# -- the bot processes --------------------------------------------------------------------


def tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants that are still alive."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(procs: list[psutil.Process]) -> float:
    """User + system CPU time of these processes (children that exited are not counted)."""
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def rss_bytes(procs: list[psutil.Process]) -> int:
    """Resident set size of these processes together."""
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


@dataclass
class BotProcess:
    """One bot under test: its sandbox, its process and how to read its answers."""

    kind: str  # "desk" or "echo"
    sandbox: RecordingSandbox
    url: str
    proc: asyncio.subprocess.Process
    data_dir: Path
    next_user: int = 10_000_000
    peak_rss: int = 0

    @property
    def pid(self) -> int:
        """The bot's main process id."""
        return self.proc.pid

    def users(self, count: int) -> list[int]:
        """Fresh chat ids, never used before in this process."""
        first = self.next_user
        self.next_user += count
        return list(range(first, first + count))

    def tree(self) -> list[psutil.Process]:
        """The bot's process tree."""
        return tree(self.pid)

    def sample_rss(self) -> int:
        """Note the tree's RSS now and keep the peak."""
        rss = rss_bytes(self.tree())
        self.peak_rss = max(self.peak_rss, rss)
        return rss


def desk_env(url: str, token: str, data_dir: Path) -> dict[str, str]:
    """The desk's environment: sandbox URL, own data dir, rate limiter out of the way."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRAAGBAAK_")}
    env.update({
        "VRAAGBAAK_TELEGRAM_TOKEN": token,
        "VRAAGBAAK_TELEGRAM_API_URL": url,
        "VRAAGBAAK_DATA_DIR": str(data_dir),
        "VRAAGBAAK_RATE_LIMIT_PER_SECOND": "100000",
        "VRAAGBAAK_SECRET_KEY": "bench",
        "VRAAGBAAK_LOG_LEVEL": "WARNING",
        "VRAAGBAAK_WEB_PORT": "0",  # the test suite runs several side by side
        # A benchmark is a flood by design: measure the desk, not its flood control.
        "VRAAGBAAK_FLOOD_MESSAGES": "0",
    })
    return env


# Every desk the benchmark starts reads one trained triage snapshot instead of training its
# own: the benchmark measures answering, not training (about a minute per desk with 641 cards).
# The first desk trains and leaves its snapshot in the workdir; a snapshot in TRIAGE_SEED_ENV
# (the test run's, tests/trained.py) serves from the start. A desk still checks that a snapshot
# matches its knowledge, and trains anew if not.
TRIAGE_SEED_ENV = "VRAAGBAAK_TRIAGE_SEED"
SHARED_TRIAGE = "triage-cache"


def seed_triage(workdir: Path, data_dir: Path) -> None:
    """Give a new desk's data directory the snapshots trained before it."""
    seed = os.environ.get(TRIAGE_SEED_ENV)
    for source in ([Path(seed)] if seed else []) + [workdir / SHARED_TRIAGE]:
        snapshot.copy_all(source, data_dir / "cache")


def keep_triage(workdir: Path, data_dir: Path) -> None:
    """Keep the snapshot a desk trained for the desks started after it."""
    snapshot.copy_all(data_dir / "cache", workdir / SHARED_TRIAGE)


@contextlib.asynccontextmanager
async def bot_process(kind: str, workdir: Path, with_worker: bool = False,
                      extra_env: dict[str, str] | None = None) -> AsyncIterator[BotProcess]:
    """Start a sandbox and the bot against it; wait until the bot polls; stop both after."""
    sandbox = RecordingSandbox(f"{BOT_ID}:bench-{kind}-{os.getpid()}", kind)
    data_dir = workdir / f"{kind}-{time.monotonic_ns()}"
    data_dir.mkdir(mode=0o700, parents=True)
    if kind == "desk":
        seed_triage(workdir, data_dir)
    async with serving(sandbox) as url:
        env = desk_env(url, sandbox.token, data_dir)
        env.update(extra_env or {})
        if kind == "desk":
            cmd = [sys.executable, "-m", "bot.cli", "run"]
            if not with_worker:
                cmd.append("--no-worker")
        else:
            cmd = [sys.executable, "-m", "bench.echo_bot", sandbox.token, f"{url}/bot"]
        log_path = data_dir / "bot.log"
        with log_path.open("wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                *cmd, cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file, stderr=log_file)
        bot = BotProcess(kind, sandbox, url, proc, data_dir)
        try:
            died = asyncio.create_task(proc.wait())
            polled = asyncio.create_task(sandbox.polled.wait())
            await asyncio.wait({died, polled}, timeout=START_TIMEOUT,
                               return_when=asyncio.FIRST_COMPLETED)
            polled.cancel()
            if not sandbox.polled.is_set():
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{kind} bot did not start polling:\n{tail}")
            yield bot
        finally:
            await stop(proc)
            if kind == "desk":
                keep_triage(workdir, data_dir)


async def stop(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL of the whole tree if it does not end in time."""
    if proc.returncode is not None:
        return
    procs = tree(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
    except TimeoutError:
        for child in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        await proc.wait()


# -- the loads ----------------------------------------------------------------------------


@dataclass
class Phase:
    """What one load on one bot gave."""

    asked: int
    answered: int
    seconds: float
    cpu_seconds: float
    latencies: list[float]
    messages: int
    in_order: bool
    rss: int
    out_of_order_chats: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Answered questions per second, first send to last answer."""
        return self.answered / self.seconds

    @property
    def cpu_per_update_ms(self) -> float:
        """CPU of the bot's tree per question, in ms."""
        return 1000 * self.cpu_seconds / max(self.asked, 1)

    @property
    def p95_ms(self) -> float:
        """95th percentile of send -> answer, in ms."""
        return 1000 * percentile(self.latencies, 95) if self.latencies else float("nan")

    @property
    def messages_per_answer(self) -> float:
        """sendMessage calls per answered question."""
        return self.messages / max(self.answered, 1)


Schedule = list[tuple[float, int, str]]  # (seconds after start, chat id, text)


async def run_load(bot: BotProcess, schedule: Schedule, expected: dict[int, list[str]],
                   timeout: float) -> Phase:
    """Send on schedule, wait for every answer; time, CPU, order of one load."""
    sandbox = bot.sandbox
    chats = list(expected)
    before_sent = {chat: sandbox.sent[chat] for chat in chats}
    before_answers = {chat: len(sandbox.answers[chat]) for chat in chats}
    sandbox.expect(len(schedule))
    procs = bot.tree()
    cpu_before = cpu_seconds(procs)
    rss_task = asyncio.create_task(_sample_rss(bot))
    start = time.perf_counter()
    sent_at = await send_on_schedule(sandbox, schedule)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sandbox.reached.wait(), timeout)
    end = time.perf_counter()
    cpu = cpu_seconds(procs) - cpu_before
    rss_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await rss_task
    latencies: list[float] = []
    answered = 0
    out_of_order = []
    last = start
    for chat in chats:
        answers = sandbox.answers[chat][before_answers[chat]:]
        answered += len(answers)
        latencies += [a - s for s, (a, _) in zip(sent_at[chat], answers, strict=False)]
        if answers:
            last = max(last, answers[-1][0])
        if [key for _, key in answers] != expected[chat]:
            out_of_order.append(chat)
    messages = sum(sandbox.sent[chat] - before_sent[chat] for chat in chats)
    return Phase(len(schedule), answered, max((last if answered else end) - start, 1e-9), cpu,
                 latencies, messages, not out_of_order, bot.peak_rss, out_of_order)


async def send_on_schedule(sandbox: SandboxTelegram, schedule: Schedule
                           ) -> dict[int, list[float]]:
    """Send each question at its time after now; when each chat's questions went out."""
    sent_at: dict[int, list[float]] = defaultdict(list)
    start = time.perf_counter()
    for offset, chat_id, text in schedule:
        delay = start + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent_at[chat_id].append(time.perf_counter())
        await sandbox.user_sends(chat_id, text, "Bench", "nl")
    return sent_at


async def _sample_rss(bot: BotProcess) -> None:
    while True:
        bot.sample_rss()
        await asyncio.sleep(0.25)


@dataclass(frozen=True)
class Question:
    """A question and the answer key each bot gives it."""

    text: str
    snippet: str


def keys_for(kind: str, questions: list[Question]) -> list[str]:
    """What each bot answers these questions with, in order."""
    return [q.text if kind == "echo" else q.snippet for q in questions]


def plan(bot: BotProcess, groups: list[list[Question]], chats: int, per_chat: int,
         salt: int) -> dict[int, list[Question]]:
    """`per_chat` questions per fresh chat, each with a different answer, so order shows."""
    out = {}
    for i, chat in enumerate(bot.users(chats)):
        picks = []
        for k in range(per_chat):
            group = groups[(i * per_chat + k + salt) % len(groups)]
            picks.append(group[(i + salt) % len(group)])
        out[chat] = picks
    return out


def burst_schedule(questions: dict[int, list[Question]]) -> Schedule:
    """Everything at once: chat by chat, round robin."""
    per_chat = max(len(qs) for qs in questions.values())
    return [(0.0, chat, qs[k].text) for k in range(per_chat)
            for chat, qs in questions.items() if k < len(qs)]


def paced_schedule(questions: dict[int, list[Question]], rate: float) -> Schedule:
    """One question every 1/rate seconds, round robin over the chats."""
    return [(i / rate, chat, text) for i, (_, chat, text)
            in enumerate(burst_schedule(questions))]


async def calibrate(bot: BotProcess, texts: list[str], timeout: float
                    ) -> tuple[list[list[Question]], float]:
    """Ask each question once from its own chat; group ordinary answers by snippet.

    Also warms the bot up. Returns the groups and the messages sent per question over all of
    them (urgent questions get a 112 notice before the answer).
    """
    usable = [t for t in texts if len(t) <= MAX_QUESTION]
    chats = bot.users(len(usable))
    schedule = [(0.0, chat, text) for chat, text in zip(chats, usable, strict=True)]
    sandbox = bot.sandbox
    sandbox.expect(len(schedule))
    for _, chat, text in schedule:
        await sandbox.user_sends(chat, text, "Bench", "nl")
    try:
        await asyncio.wait_for(sandbox.reached.wait(), timeout)
    except TimeoutError:
        raise RuntimeError(f"{bot.kind}: calibration not answered in {timeout:.0f} s") from None
    await asyncio.sleep(0.2)  # stragglers after the last answer
    groups: dict[str, list[Question]] = defaultdict(list)
    for chat, text in zip(chats, usable, strict=True):
        answers = sandbox.answers[chat]
        if sandbox.sent[chat] == 1 and len(answers) == 1:
            key = text if bot.kind == "echo" else answers[0][1]
            groups[key].append(Question(text, answers[0][1]))
    messages = sum(sandbox.sent[chat] for chat in chats) / len(chats)
    return [groups[k] for k in sorted(groups)], messages


def workspace() -> tempfile.TemporaryDirectory[str]:
    """A temporary directory for the bots' data."""
    return tempfile.TemporaryDirectory(prefix="vraagbaak-bench-")
