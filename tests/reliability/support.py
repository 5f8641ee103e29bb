"""Shared helpers for the reliability tests: real file-system faults, real
processes, the real bot in-process, and checks on what it sends.

Everything here cleans up after itself even when a test fails: mounts are
unmounted (lazily if still busy), processes are killed and reaped, and every
wait has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import functools
import html
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from callguard import replies
from callguard.detection_pool import DetectionPool
from callguard.rulebook import RuleBook
from callguard.service import CallGuard
from callguard.storage import ReportWriter, SQLiteStore
from callguard.telegram.app import build_application
from tests.support.fake_bot_api import Call, FakeBotAPI
from tests.support.ptb import running_app

ROOT = Path(__file__).resolve().parents[2]
# The shipped rules; CALLGUARD_TEST_RULES points the reliability tests at another
# file (e.g. a pinned copy while someone is half-way through editing the rules).
RULES = Path(os.environ.get("CALLGUARD_TEST_RULES") or ROOT / "rules" / "scam_patterns.yaml")

# Textbook scripts the shipped rules judge "high" whatever their fine tuning.
SCAM_HANS = "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户"
SCAM_HANT = "有人自稱通信管理局，說我的號碼要被凍結，讓我把錢轉到安全帳戶"
SCAM_EN = ("A man said he was from the communications administration, my number will be frozen "
           "and I must move my money to a safe account")
BENIGN_EN = "My mum called to ask when I'm coming home for dinner"

PROCESS_START_TIMEOUT = 40.0  # a cold interpreter importing PTB on a busy 2-core CI machine


# --------------------------------------------------------------------------- file-system faults


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "1m") -> Iterator[Path]:
    """Mount a fresh tmpfs of ``size`` on ``path``; skip the test if mounting is not permitted.

    Always unmounted at the end (remounted read-write first, lazily detached if
    something still holds it), so a failing test leaves no mount behind."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    proc = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path))
    if proc.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {proc.stderr.strip()}")
    try:
        yield path
    finally:
        _run("mount", "-o", "remount,rw", str(path))
        if _run("umount", str(path)).returncode != 0:
            _run("umount", "-l", str(path))


def remount(path: Path, mode: str) -> None:
    """``mount -o remount,<mode>``; raises with mount's message if refused."""
    proc = _run("mount", "-o", f"remount,{mode}", str(path))
    if proc.returncode != 0:
        raise RuntimeError(f"mount -o remount,{mode} {path} failed: {proc.stderr.strip()}")


def fill_disk(directory: Path) -> Path:
    """Write a filler file until the file system says ENOSPC; returns the filler."""
    filler = directory / "filler"
    chunk = b"\0" * 4096
    with open(filler, "wb", buffering=0) as fh:
        while True:
            try:
                fh.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    return filler


class ExternalLock:
    """A separate process holding ``BEGIN EXCLUSIVE`` on a SQLite file until released."""

    SCRIPT = (
        "import sqlite3, sys\n"
        "con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)\n"
        "con.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.readline()\n"
        "con.execute('ROLLBACK')\n"
        "con.close()\n"
    )

    def __init__(self, db: Path):
        self.db = db
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> "ExternalLock":
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", self.SCRIPT, str(self.db),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        line = await asyncio.wait_for(self.proc.stdout.readline(), 20)
        assert line.strip() == b"locked", line
        return self

    async def release(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.stdin.write(b"done\n")
        await self.proc.stdin.drain()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


# --------------------------------------------------------------------------- the bot, in-process


class ErrorLog:
    """An extra PTB error handler: every update that reached the error handler is kept here."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    async def __call__(self, update: object, context: Any) -> None:
        self.errors.append(context.error)


@dataclass
class Live:
    api: FakeBotAPI
    app: Any
    guard: CallGuard
    errors: ErrorLog

    async def flush_job(self) -> None:
        """Run the app's periodic "write queued reports" job now (it runs every 30 s)."""
        [job] = self.app.job_queue.get_jobs_by_name("flush-reports")
        await asyncio.wait_for(job.run(self.app), 30)


@contextlib.asynccontextmanager
async def live_bot(settings, *, busy_timeout_ms: int | None = None, webhook: dict | None = None,
                   writer_options: dict | None = None, pool: DetectionPool | None = None,
                   **overrides: Any) -> AsyncIterator[Live]:
    """The real CallGuard application (``callguard.main.build``'s wiring) polling a fake Bot API.

    ``busy_timeout_ms`` / ``writer_options`` / ``pool`` build the same composition with a
    shorter SQLite busy timeout, other ReportWriter limits (so "locked longer than
    busy_timeout" does not take 5 s per test) or another detection pool."""
    async with FakeBotAPI() as api:
        s = dataclasses.replace(settings, token=api.token, bot_api_url=api.base_url,
                                bot_file_url=api.base_file_url, **overrides)
        if busy_timeout_ms is None and not writer_options and pool is None:
            from callguard.main import build

            app = build(s)
        else:
            opener = functools.partial(SQLiteStore.open, s.db_path, secret=s.secret)
            if busy_timeout_ms is not None:
                opener = functools.partial(opener, busy_timeout_ms=busy_timeout_ms)
            writer = ReportWriter(opener, **(writer_options or {}))
            app = build_application(s, CallGuard(s, RuleBook.load(s.rules_path), writer, pool))
        errors = ErrorLog()
        app.add_error_handler(errors)
        async with running_app(app, webhook=webhook):
            yield Live(api, app, app.bot_data["guard"], errors)


async def reply_to(api: FakeBotAPI, chat_id: int, since: int = 0, timeout: float = 10.0) -> Call:
    return await api.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat_id and c.ok,
                              since=since, timeout=timeout)


def sent_to(api: FakeBotAPI, chat_id: int, since: int = 0) -> list[dict]:
    return [c.params for c in api.requests[since:]
            if c.method == "sendMessage" and c.ok and c.params.get("chat_id") == chat_id]


def report_id_of(params: dict) -> int:
    """The report id carried by a verdict's feedback buttons (0 = not stored yet)."""
    for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data", "")
            if data.startswith("h:"):
                return int(data.split(":")[1])  # h:<report id>:<signature>
    raise AssertionError(f"no feedback button in {params!r}")


# --------------------------------------------------------------------------- the bot, as a process


class BotProcess:
    """``python -m bot run`` as a child process; output goes to files (a full pipe would block it)."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str = "bot", args: tuple[str, ...] = ()):
        self.env = env
        self.workdir = workdir
        self.name = name
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.runs = 0
        self.preexec: Any = None  # run in the child before exec (e.g. to lower its resource limits)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.runs}.log"

    async def start(self) -> None:
        self.runs += 1
        with open(self.log_path, "wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "callguard", "run", *self.args, env=self.env, cwd=self.workdir,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, preexec_fn=self.preexec)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(sig)

    async def wait(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise

    async def until(self, api: FakeBotAPI, condition: Any, *, timeout: float = PROCESS_START_TIMEOUT,
                    description: str = "") -> None:
        """``api.wait_until(condition)``, failing at once (with the log) if the process exits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            if self.proc is None or self.proc.returncode is not None:
                raise AssertionError(f"{self.name} exited ({self.proc and self.proc.returncode}) while waiting "
                                     f"for {description}:\n{self.log()[-3000:]}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: timed out after {timeout}s waiting for {description}\n"
                                   f"{api.describe_requests()}\n--- log ---\n{self.log()[-3000:]}")
            with contextlib.suppress(TimeoutError):
                await api.wait_until(condition, timeout=min(0.5, remaining))

    async def stop(self) -> None:
        """Make sure the process is gone (SIGKILL if still running)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def __aenter__(self) -> "BotProcess":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def peak_rss_kb(self) -> int | None:
        """VmHWM (peak resident set) of the running child, from /proc."""
        return _proc_status_kb(self.proc.pid, "VmHWM") if self.proc else None

    def rss_kb(self) -> int | None:
        return _proc_status_kb(self.proc.pid, "VmRSS") if self.proc else None


def _proc_status_kb(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------- checking what was sent

# Telegram's HTML: these tags only; entities &lt; &gt; &amp; &quot; and numeric ones.
_HTML_TOKEN = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s[^<>]*)?)>|&(?:lt|gt|amp|quot|#\d+|#x[0-9A-Fa-f]+);|[<&]")
OUR_TAGS = frozenset({"b"})


def html_problems(text: str, allowed: frozenset[str] = OUR_TAGS) -> list[str]:
    """Why Telegram would reject ``text`` as HTML, or let markup through that is not ours.

    Every ``<`` must open or close one of ``allowed`` (no attributes), every
    ``&`` must start an entity, and tags must nest properly."""
    problems: list[str] = []
    stack: list[str] = []
    for m in _HTML_TOKEN.finditer(text):
        token = m.group(0)
        if token in ("<", "&"):
            problems.append(f"unescaped {token!r} at {m.start()}: {text[max(0, m.start() - 20):m.start() + 20]!r}")
        elif token.startswith("<"):
            closing, tag, attrs = m.group(1), m.group(2).lower(), m.group(3)
            if tag not in allowed or attrs:
                problems.append(f"foreign markup {token!r}")
            elif closing:
                if not stack or stack.pop() != tag:
                    problems.append(f"unbalanced {token!r}")
            else:
                stack.append(tag)
    if stack:
        problems.append(f"unclosed tags {stack}")
    return problems


def visible_text(text: str) -> str:
    """What the user sees of an HTML message: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def headings() -> set[str]:
    """First lines a verdict can start with, in every language."""
    keys = ["complaint", "complaint.low", *(f"risk.{r}" for r in ("high", "medium", "low", "none")),
            "short.title", "link.title", "number.title"]  # no pattern matched: by what the message holds
    return {replies.ui(k, lang) for k in keys for lang in replies.LANGUAGES}


def percentile(data: list[float], p: float) -> float:
    data = sorted(data)
    if not data:
        return float("nan")
    return data[min(len(data) - 1, int(round(p * (len(data) - 1))))]
