"""Benchmark of the whole bot: fake Bot API + real PTB + SQLite logging, on this machine.

    python bench/bench_bot.py            # 3 runs, steady scenario 20 s
    python bench/bench_bot.py --quick    # 3 runs, steady scenario 6 s, smaller burst

Two bots are measured against the same fake Telegram server (tests/support/fake_bot_api.py,
running in this process, on 127.0.0.1):

* CallGuard, started exactly as in production: ``python -m bot run`` (long polling), with its
  reports in a fresh SQLite file;
* a baseline: a minimal PTB bot (a subprocess of this script, ``--serve-baseline``) that echoes
  each text and logs it to SQLite with aiosqlite (WAL, synchronous=NORMAL, one INSERT + commit
  per message), built from CallGuard's own ``application_builder(settings)`` so both use the same
  Bot API connection settings, the same number of updates processed at once, and no outgoing
  rate limit (CALLGUARD_SEND_RATE=0).

Each bot runs in its own process, so the bot and the fake server each have a core (the machine
has 2). Scenarios:

1. burst: N distinct users (1,000; --quick 500) each send one realistic message at the same
   moment; throughput = N / (last reply received - first message pushed), in replies/s.
2. steady: 30 messages/s from a few hundred users for 20 s (--quick 6 s); reply latency = from
   the push to the fake server receiving the ``sendMessage`` (FakeBotAPI.latencies).
3. the bot's own work per message with the network taken out (PTB dispatch, handlers, detection,
   SQLite; replies are no-ops), in CPU ms: CallGuard, CallGuard without storage, CallGuard without
   detection, and the baseline. Much steadier than 1 and 2 on a busy machine, and it shows where
   CallGuard's extra cost per message goes.

``--matched-baseline`` adds a third bot to 1 and 2: the baseline sending CallGuard's own reply
texts and keyboards (precomputed), to separate the cost of the bigger replies from CallGuard's work.

Each bot gets a fresh process, database and fake server for each run; runs alternate between the
two bots; the medians over runs are reported. Results go to bench/results/bot.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.env import clean_env  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "callguard.json"
TARGET_RATIO = 0.80
TARGET_P99_MS = 50.0
STEADY_USERS = 300  # steady messages cycle through this many users (some send several)

# What people send the bot: scam and benign descriptions in Simplified and Traditional
# Chinese and English, short and long, some with the caller's number.
CORPUS = [
    "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户",
    "刚才接到电话，对方说是公安局的，说我涉嫌洗钱，要我把钱转到安全账户配合调查，还不让告诉家人",
    "13812345678 打电话说是京东客服，说我的百万保障要关闭，不然每月扣费，让我下载会议软件共享屏幕",
    "快递客服说我的包裹丢了要理赔，让我加他微信，然后发了一个链接让我填银行卡号和验证码",
    "自称支付宝客服，说我的账号异常要冻结，让我把验证码报给他",
    "一个陌生号码加我微信，说是我领导，让我先转五万块钱给一个客户，不要打电话问",
    "网上认识的导师带我炒币，说保本高收益，让我下载APP充值，现在提现不了",
    "有人说我中奖了，一台手机，要先交个人所得税和手续费才能领",
    "贷款客服说我的贷款已经批了，但要先交一笔保证金才能放款",
    "对方说我儿子出车祸了在医院急需手术费，让我马上转钱，不能挂电话",
    "刷单兼职，先返了我几十块佣金，现在说要垫付三千才能完成任务提现",
    "电话里说我的身份证被人冒用办了电话卡，发送违法短信，要转接到警方",
    "有人自稱通信管理局，說我的號碼要被凍結，讓我把錢轉到安全帳戶",
    "自稱銀行客服，說我的帳戶有異常交易，要我提供驗證碼和卡號",
    "對方說我涉嫌洗錢，要轉接檢察官，讓我把存款轉到指定帳戶",
    "0912345678 打來說是電信公司，說我的門號會被停用，要我點連結輸入身分證字號",
    "A man said he was from the communications administration, my number will be frozen and I must "
    "move my money to a safe account",
    "Someone claiming to be Amazon support said my order had a problem and asked me to share my screen "
    "for a refund",
    "A caller said he was a police officer, that my identity was used in a money laundering case and I "
    "must transfer my savings to a safe account",
    "Got a text saying my parcel is held at customs, click the link and pay a small fee to release it",
    "They said I won a prize in a lottery but I have to pay the tax first before they can send it",
    "+86 138 0013 8000 called and said my bank card was frozen and asked for the verification code",
    "A woman I met online wants me to invest in a crypto platform, she says returns are guaranteed",
    "My boss messaged from a new number asking me to buy gift cards urgently and not to call him",
    "今天天气很好，我们去公园散步吧",
    "快递员打电话说包裹放在门卫室了，让我下班去拿",
    "我妈打电话问我周末回不回家吃饭",
    "营业厅打电话提醒我话费余额不足，我自己在App上充了",
    "银行发短信说我的信用卡账单已出，还款日是下个月五号",
    "物业打电话说明天上午停水检修",
    "移动公司这个月多扣了我五十块话费，我要投诉",
    "小区门口新开了一家面馆，味道还不错",
    "My mum called to ask when I'm coming home for dinner",
    "The dentist's office called to confirm my appointment on Tuesday at 10",
    "A delivery driver called because he couldn't find my building",
    "My phone company texted that my monthly bill is ready in the app",
    "The school called to say my daughter forgot her lunch",
    "Is it normal for the bank to call about a new credit card offer? They did not ask for anything",
]


# --------------------------------------------------------------------------- the baseline bot


def _matched_reply() -> dict:
    """CallGuard's reply to each text of the corpus (HTML text and keyboard), computed once, so
    the matched baseline sends the same bytes without doing CallGuard's work per message (the
    keyboard as the same plain dict CallGuard sends, see keyboards.verdict_markup)."""
    from callguard.config import Settings
    from callguard.detect import Detector, detect_language, load_rules
    from callguard.replies import verdict_reply
    from callguard.telegram.keyboards import verdict_markup

    detector = Detector(load_rules(Settings.from_env().rules_path))
    out = {}
    for i, text in enumerate(CORPUS):
        verdict, lang = detector.check(text), detect_language(text)
        out[text] = (verdict_reply(verdict, detector.ruleset, lang),
                     verdict_markup(1000 + i, verdict.category, lang, scam=verdict.scam))
    return out


def serve_baseline() -> int:
    """The baseline: reply to each text, log it with aiosqlite (one INSERT + commit per message)."""
    import aiosqlite
    from telegram import Update
    from telegram.ext import MessageHandler, filters

    from callguard.config import Settings
    from callguard.telegram.app import application_builder

    settings = Settings.from_env()
    lock = asyncio.Lock()

    async def post_init(app) -> None:
        db = await aiosqlite.connect(settings.db_path)
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("CREATE TABLE IF NOT EXISTS messages "
                         "(id INTEGER PRIMARY KEY, created_at REAL NOT NULL, user_id INTEGER, text TEXT NOT NULL)")
        await db.commit()
        app.bot_data["db"] = db

    async def post_shutdown(app) -> None:
        await app.bot_data["db"].close()

    matched = _matched_reply() if os.environ.get("BENCH_MATCHED_REPLY") else None

    async def on_text(update: Update, context) -> None:
        message = update.effective_message
        db = context.bot_data["db"]
        async with lock:  # one INSERT + commit per message, never batched with another's
            await db.execute("INSERT INTO messages (created_at, user_id, text) VALUES (?, ?, ?)",
                             (time.time(), update.effective_user.id, message.text))
            await db.commit()
        if matched is None:
            await message.reply_text(message.text)
        else:  # --matched-baseline: CallGuard's reply to this very text, with its keyboard
            # (by text: message ids count per chat, so every first message of a user has id 1)
            text, keyboard = matched[message.text]
            await message.reply_html(text, reply_markup=keyboard)

    app = (application_builder(settings).concurrent_updates(settings.concurrency)
           .post_init(post_init).post_shutdown(post_shutdown).build())
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


# --------------------------------------------------------------------------- bot work without network

DISPATCH_VARIANTS = ("callguard", "callguard-without-storage", "callguard-without-detection", "baseline")


def serve_dispatch(variant: str, n: int) -> int:
    """CPU per message of the bot's own work: PTB dispatch, handlers, detection, SQLite, with
    the network taken out (replies are no-ops). Far steadier than the end-to-end figures on a
    busy machine, and it splits CallGuard's cost. Prints one JSON line."""
    import aiosqlite
    from telegram import Message, Update, User
    from telegram.ext import MessageHandler, filters

    from callguard.config import Settings
    from callguard.telegram.app import application_builder

    async def no_reply(*args, **kwargs):
        return None

    import callguard.telegram.handlers

    # Every way a reply leaves: PTB's Message methods (the baseline, CallGuard's other texts)
    # and CallGuard's verdict path (bot/telegram/request.send_reply).
    Message.reply_html = Message.reply_text = no_reply
    callguard.telegram.handlers.send_reply = no_reply

    async def run() -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            # Detection in this process (no workers): scenario 3 counts all the work one message costs.
            settings = Settings.from_env({"CALLGUARD_DB": str(Path(tmp) / "d.db"), "CALLGUARD_SEND_RATE": "0",
                                          "CALLGUARD_RATE_LIMIT": "10000", "CALLGUARD_SECRET": "bench",
                                          "CALLGUARD_DETECT_WORKERS": "0",
                                          "TELEGRAM_BOT_TOKEN": "1:bench",
                                          # a request that slips past the no-ops fails at once, here
                                          "CALLGUARD_BOT_API_URL": "http://127.0.0.1:9/bot"})
            closers = []
            if variant.startswith("callguard"):
                from callguard import service
                from callguard.detect import Detector, Verdict
                from callguard.main import build

                if variant == "callguard-without-storage":
                    async def submit_and_count(self, report, user_id, *, days=None):
                        return 1, {}
                    service.ReportWriter.submit_and_count = submit_and_count
                if variant == "callguard-without-detection":
                    Detector.check = lambda self, text: Verdict(False, "none", None, None, 0)
                app = build(settings)
                guard = app.bot_data["guard"]
                await guard.start()
                closers.append(guard.close)
            else:
                lock = asyncio.Lock()
                db = await aiosqlite.connect(settings.db_path)
                await db.execute("PRAGMA journal_mode = WAL")
                await db.execute("PRAGMA synchronous = NORMAL")
                await db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, created_at REAL, user_id INTEGER, "
                                 "text TEXT)")
                closers.append(db.close)

                async def on_text(update, context):
                    async with lock:
                        await db.execute("INSERT INTO messages (created_at, user_id, text) VALUES (?, ?, ?)",
                                         (time.time(), update.effective_user.id, update.effective_message.text))
                        await db.commit()
                    await update.effective_message.reply_text(update.effective_message.text)

                app = application_builder(settings).concurrent_updates(settings.concurrency).build()
                app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
            app.bot._bot_user = User(1, "bench", True, username="callguard_test_bot")  # no getMe
            app._initialized = True
            updates = [Update.de_json({"update_id": i, "message": {
                "message_id": i, "date": 1, "text": CORPUS[i % len(CORPUS)], "chat": {"id": 10_000 + i, "type": "private"},
                "from": {"id": 10_000 + i, "is_bot": False, "first_name": "x", "language_code": "en"}}}, app.bot)
                for i in range(n + 200)]
            processor = app.update_processor

            async def one(update):
                await processor.process_update(update, app.process_update(update))

            await asyncio.gather(*(one(u) for u in updates[:200]))  # warm-up
            cpu0, t0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one(u) for u in updates[200:]))
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
            for close in closers:
                await close()
            return {"variant": variant, "messages": n, "cpu_ms_per_message": 1000 * cpu / n, "per_s": n / wall}

    print(json.dumps(asyncio.run(run())))
    return 0


async def dispatch_costs(n: int, env: dict[str, str]) -> dict:
    out: dict[str, list[float]] = {v: [] for v in DISPATCH_VARIANTS}
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    for _ in range(3):
        for variant in DISPATCH_VARIANTS:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).resolve()), "--serve-dispatch", variant, str(n), env=full_env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
            stdout, _ = await proc.communicate()
            out[variant].append(json.loads(stdout.decode().strip().splitlines()[-1])["cpu_ms_per_message"])
    return {v: statistics.median(x) for v, x in out.items()}


# --------------------------------------------------------------------------- driving a bot process


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux), for CPU per message."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


class BotProcess:
    def __init__(self, kind: str, api, workdir: Path, env_extra: dict[str, str]):
        self.kind = kind
        self.api = api
        self.workdir = workdir
        self.env_extra = env_extra
        self.proc: asyncio.subprocess.Process | None = None
        self.log = workdir / f"{kind}.log"

    async def start(self) -> None:
        env = clean_env(TELEGRAM_BOT_TOKEN=self.api.token, CALLGUARD_BOT_API_URL=self.api.base_url,
                        CALLGUARD_DB=str(self.workdir / f"{self.kind}.db"), CALLGUARD_SEND_RATE="0",
                        CALLGUARD_RATE_LIMIT="10000", CALLGUARD_SECRET="bench", **self.env_extra)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        if self.kind == "callguard":
            argv = [sys.executable, "-m", "callguard", "run"]
        else:
            argv = [sys.executable, str(Path(__file__).resolve()), "--serve-baseline"]
            if self.kind == "matched":
                env["BENCH_MATCHED_REPLY"] = "1"
        self.logfile = open(self.log, "wb")
        self.proc = await asyncio.create_subprocess_exec(*argv, env=env, cwd=self.workdir,
                                                         stdout=self.logfile, stderr=self.logfile)

    @property
    def cpu(self) -> float:
        return _cpu_seconds(self.proc.pid)

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.logfile.close()
        return self.proc.returncode


def _percentile(data: list[float], p: float) -> float:
    data = sorted(data)
    return data[min(len(data) - 1, int(round(p * (len(data) - 1))))]


async def _wait_replies(api, count: int, timeout: float) -> None:
    await api.wait_until(lambda: api.counts["sendMessage"] >= count, timeout=timeout,
                         description=f"{count} replies")


async def warm_up(api, n: int = 100) -> None:
    """Start-up plus a first wave, so connections and lazy imports are ready."""
    before = api.counts["sendMessage"]
    for i in range(n):
        api.push_message(CORPUS[i % len(CORPUS)], user_id=900_000 + i)
    await _wait_replies(api, before + n, timeout=60)
    await api.wait_until(lambda: api.pending_update_count == 0, timeout=10)


async def burst(api, bot: BotProcess, users: int) -> dict:
    api.clear()
    cpu0, own0 = bot.cpu, time.process_time()
    t0 = time.perf_counter()
    for i in range(users):
        api.push_message(CORPUS[i % len(CORPUS)], user_id=1_000_000 + i)
    pushed = time.perf_counter()
    await _wait_replies(api, users, timeout=300)
    last = max(c.at for c in api.calls("sendMessage"))
    cpu, own = bot.cpu - cpu0, time.process_time() - own0
    seconds = last - t0
    return {"messages": users, "seconds": seconds, "replies_per_s": users / seconds,
            "push_seconds": pushed - t0, "bot_cpu_ms_per_message": 1000 * cpu / users,
            "fake_server_cpu_ms_per_message": 1000 * own / users,
            "latency_p50_ms": 1000 * _percentile(api.latencies, 0.5),
            "latency_max_ms": 1000 * max(api.latencies)}


async def steady(api, bot: BotProcess, rate: float, seconds: float) -> dict:
    api.clear()
    loop = asyncio.get_running_loop()
    n = int(rate * seconds)
    cpu0 = bot.cpu
    start = loop.time() + 0.05
    late = 0.0
    for i in range(n):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        api.push_message(CORPUS[(i * 7) % len(CORPUS)], user_id=2_000_000 + i % STEADY_USERS)
    await _wait_replies(api, n, timeout=60)
    cpu = bot.cpu - cpu0
    lat = [1000 * x for x in api.latencies]
    return {"messages": n, "rate_per_s": rate, "seconds": seconds, "pusher_max_lateness_ms": 1000 * late,
            "p50_ms": _percentile(lat, 0.50), "p90_ms": _percentile(lat, 0.90), "p99_ms": _percentile(lat, 0.99),
            "max_ms": max(lat), "mean_ms": statistics.fmean(lat), "bot_cpu_percent": 100 * cpu / seconds}


async def one_run(kind: str, args, workdir: Path) -> dict:
    from tests.support.fake_bot_api import FakeBotAPI

    async with FakeBotAPI(max_stored_messages=20_000) as api:
        bot = BotProcess(kind, api, workdir, args.env)
        await bot.start()
        try:
            await warm_up(api)
            result = {"burst": await burst(api, bot, args.users)}
            await api.wait_until(lambda: api.pending_update_count == 0, timeout=10)
            result["steady"] = await steady(api, bot, args.rate, args.seconds)
        finally:
            code = await bot.stop()
        if code != 0:
            raise RuntimeError(f"{kind} exited with {code}; see {bot.log}:\n{bot.log.read_text()[-3000:]}")
        result["load_average_1min"] = os.getloadavg()[0]  # other work on the machine skews the figures
        return result


def _median(runs: list[dict], scenario: str, key: str) -> float:
    return statistics.median(r[scenario][key] for r in runs)


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import telegram

    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "python_telegram_bot": telegram.__version__}


def shared_settings(env: dict[str, str]) -> dict:
    """The PTB settings both bots run with, read back from a built CallGuard application."""
    import dataclasses

    from callguard.config import Settings
    from callguard.telegram.app import application_builder

    settings = dataclasses.replace(Settings.from_env({**env, "CALLGUARD_SEND_RATE": "0"}), token="1:bench")
    app = application_builder(settings).concurrent_updates(settings.concurrency).build()
    request = app.bot.request
    updates_request = app.bot._request[0]  # PTB keeps (get_updates request, other requests)
    limits = request._client._transport._pool  # httpx -> httpcore pool
    return {
        "updates_processed_at_once": settings.concurrency,
        "connection_pool_size": limits._max_connections,
        "get_updates_connection_pool_size": updates_request._client._transport._pool._max_connections,
        "pool_timeout_s": request._client.timeout.pool,
        "http_version": request.http_version,
        "request_body": f"{type(request).__name__} (JSON bodies, bot/telegram/request.py)",
        "outgoing_rate_limit": "none (CALLGUARD_SEND_RATE=0: CallGuard installs no PTB rate limiter either)",
        "update_processor": {"callguard": "PerUserUpdateProcessor (parallel across users, in order per user)",
                             "baseline": "PTB's SimpleUpdateProcessor (same limit)"},
        "polling": "run_polling defaults (long poll timeout 10 s, up to 100 updates per getUpdates)",
        "sqlite": "WAL, synchronous=NORMAL, one connection (aiosqlite)",
    }


async def main_async(args) -> dict:
    kinds = ["callguard", "baseline"] + (["matched"] if args.matched_baseline else [])
    runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="callguard-bench-") as tmp:
        for i in range(args.runs):
            order = kinds if i % 2 == 0 else kinds[::-1]
            for kind in order:
                workdir = Path(tmp) / f"{kind}-{i}"
                workdir.mkdir()
                result = await one_run(kind, args, workdir)
                runs[kind].append(result)
                b, s = result["burst"], result["steady"]
                print(f"run {i + 1} {kind:9s}: burst {b['replies_per_s']:7.0f} replies/s "
                      f"(CPU/msg: bot {b['bot_cpu_ms_per_message']:.2f} ms, fake server "
                      f"{b['fake_server_cpu_ms_per_message']:.2f} ms); steady p50 {s['p50_ms']:5.1f} ms "
                      f"p99 {s['p99_ms']:5.1f} ms (load {result['load_average_1min']:.1f})", flush=True)
    summary = {}
    for kind, kind_runs in runs.items():
        summary[kind] = {
            "burst_replies_per_s": _median(kind_runs, "burst", "replies_per_s"),
            "burst_cpu_ms_per_message": _median(kind_runs, "burst", "bot_cpu_ms_per_message"),
            "steady_p50_ms": _median(kind_runs, "steady", "p50_ms"),
            "steady_p99_ms": _median(kind_runs, "steady", "p99_ms"),
            "steady_max_ms": _median(kind_runs, "steady", "max_ms"),
            "steady_cpu_percent": _median(kind_runs, "steady", "bot_cpu_percent"),
        }
    ratio = summary["callguard"]["burst_replies_per_s"] / summary["baseline"]["burst_replies_per_s"]
    summary["burst_ratio"] = ratio
    if "matched" in summary:
        summary["burst_ratio_vs_matched"] = (summary["callguard"]["burst_replies_per_s"]
                                             / summary["matched"]["burst_replies_per_s"])
    summary["targets"] = {"burst_ratio_min": TARGET_RATIO, "steady_p99_ms_max": TARGET_P99_MS,
                          "burst_ratio_met": ratio >= TARGET_RATIO,
                          "steady_p99_met": summary["callguard"]["steady_p99_ms"] < TARGET_P99_MS}
    print("bot work per message without network (3 runs each)...", flush=True)
    summary["no_network_cpu_ms_per_message"] = await dispatch_costs(2000 if args.quick else 4000, args.env)
    settings = shared_settings(args.env)
    return {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "quick": args.quick, "machine": machine(),
            "settings_both_bots": settings,
            "parameters": {"runs": args.runs, "burst_users": args.users, "steady_rate_per_s": args.rate,
                           "steady_seconds": args.seconds, "steady_users": STEADY_USERS, "corpus": len(CORPUS)},
            "summary": summary, "runs": runs}


def print_summary(result: dict) -> None:
    s = result["summary"]
    cg, bl = s["callguard"], s["baseline"]
    p = result["parameters"]
    print()
    print("Settings used by both bots:")
    for key, value in result["settings_both_bots"].items():
        print(f"  {key}: {value}")
    print(f"\nMedians over {p['runs']} runs ({result['machine']['cores']} cores, {result['machine']['cpu']}):")
    print(f"  burst ({p['burst_users']} users at once)   CallGuard {cg['burst_replies_per_s']:7.0f} replies/s   "
          f"baseline {bl['burst_replies_per_s']:7.0f} replies/s   ratio {s['burst_ratio']:.0%} "
          f"(target >= {TARGET_RATIO:.0%})")
    print(f"  CPU per message                 CallGuard {cg['burst_cpu_ms_per_message']:.2f} ms   "
          f"baseline {bl['burst_cpu_ms_per_message']:.2f} ms")
    if "matched" in s:
        m = s["matched"]
        print(f"  matched baseline (CallGuard's replies, no CallGuard work)   {m['burst_replies_per_s']:7.0f} "
              f"replies/s, {m['burst_cpu_ms_per_message']:.2f} ms CPU/msg; CallGuard = "
              f"{s['burst_ratio_vs_matched']:.0%} of it")
    d = s["no_network_cpu_ms_per_message"]
    print("  bot work per message, network taken out (CPU ms): " + ", ".join(f"{k} {v:.3f}" for k, v in d.items()))
    print(f"  steady ({p['steady_rate_per_s']:g}/s for {p['steady_seconds']:g} s)     "
          f"CallGuard p50 {cg['steady_p50_ms']:.1f} ms p99 {cg['steady_p99_ms']:.1f} ms   "
          f"baseline p50 {bl['steady_p50_ms']:.1f} ms p99 {bl['steady_p99_ms']:.1f} ms   "
          f"(target p99 < {TARGET_P99_MS:g} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller burst, shorter steady scenario")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, help="burst size (default 1000; --quick 500)")
    parser.add_argument("--rate", type=float, default=30.0, help="steady messages per second")
    parser.add_argument("--seconds", type=float, help="steady duration (default 20; --quick 6)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for both bots, e.g. --set CALLGUARD_CONCURRENCY=64")
    parser.add_argument("--matched-baseline", action="store_true",
                        help="also run the baseline sending CallGuard's reply texts and keyboards (where the gap is)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-dispatch", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        return serve_baseline()
    if args.serve_dispatch:
        return serve_dispatch(args.serve_dispatch[0], int(args.serve_dispatch[1]))
    args.users = args.users or (500 if args.quick else 1000)
    args.seconds = args.seconds or (6.0 if args.quick else 20.0)
    args.env = dict(item.split("=", 1) for item in args.set)
    result = asyncio.run(main_async(args))
    print_summary(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
