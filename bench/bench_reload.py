"""Benchmark: reloading a big rule file while the bot keeps answering.

    python bench/bench_reload.py              # 1,000 rules (~42,000 patterns), 3 runs of each reload
    python bench/bench_reload.py --quick      # 1 run of each reload
    python bench/bench_reload.py --rules 300  # another size
    python bench/bench_reload.py --no-bot     # only part 1

A reload is checked in a worker process (bot/rulebuild.py): parse, lint,
compile, every rule's examples, and the comparison with the live rules'
verdicts; the compiled candidate comes back pickled and the bot only
unpickles it. Two measurements:

1. **The handover, in this process** (median of the runs): the worker's
   stages for the big file (a first load: ``parse``, ``compile``,
   ``examples``, ``compare``, ``pickle``), the pickle's size, and what the
   bot's process pays to take the candidate: reading it on the event loop in
   small steps (:func:`callguard.handover.loads_on_loop`), with the longest
   stall of the loop meanwhile (each step is one C call). For comparison, the other design: compiling the
   rules in a thread of the bot's process (``Detector(ruleset)``), with its
   longest stall.

2. **The real bot** (``python -m callguard run`` in its own process, as in
   production) polling the fake Bot API (tests/support/fake_bot_api.py, in
   this process). Users send messages at a steady rate (each from a new user,
   so the per-user rate limit never applies) while an admin sends ``/reload``
   after the rule file was replaced by:
   * ``new``: the big file, the bot serving the shipped rules (everything is
     compiled; it changes many verdicts, so its content is approved first, as
     ``callguard rules apply --force`` does);
   * ``edit``: the big file with one phrase added (the worker reuses the
     compiled rules; the bot still unpickles the whole candidate);
   * ``same``: unchanged content (nothing to do).
   Reported: ``/reload`` pushed -> the admin's answer, the bot's own stage
   timings (from its log), and the users' reply latency (push ->
   ``sendMessage`` received) before and during the reload.

The rule file is synthetic (generated here, cached in the temp directory): each
rule has 3-5 signal groups of 5-15 phrases (65 % Chinese, 3-8 characters; 35 %
English, 2-3 words), an occasional negative group and ``requires``, 8 match and
5 no_match examples, and the shipped file's thresholds, texts and categories.
Rules whose examples fail (another rule steals their category) are replaced
until the whole file passes every check, so every reload here succeeds.
tests/reliability/test_reload_latency.py runs part 2 on a smaller file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from tests.support.env import clean_env  # noqa: E402

ADMIN = 42
RESULTS = ROOT / "bench" / "results" / "reload.json"
CACHE = Path(tempfile.gettempdir()) / "callguard-bench"
SHIPPED = ROOT / "rules" / "scam_patterns.yaml"
REFUSAL_TARGET = (1.0, 100.0)  # a hostile file refused in < 1 s (CPU) and < 100 MB (issue 12, item 1)

# --------------------------------------------------------------------------- the synthetic rule file

TARGET_P99_MS = 100.0  # users' p99 during any reload (issue 12)
GENERATOR = "2"  # bump when the synthetic rules change: the cached files are made again

_HANZI = (
    "安保北被本比边变表别并病布才参藏层产长常场车成城程持出处传创存达打大代带单当党导到道得等低地第点电调定东动"
    "都度对多儿而发法反方房放飞费分风服福府父负副改感干刚高告哥歌格个给根跟更工公功共狗构古股故顾关观管光广规"
    "国果过海寒汉好号合和河黑很红后湖户花华化话划环黄回会婚活火获机鸡积基及极级集计记纪技际济家加价架假间检见"
    "建江将交角脚教接节结姐解介界借金今进近京经精境静究九酒旧就居局举句据卷决觉军卡开看康考科可课克客空口苦快"
    "况矿困拉来蓝老乐类冷离礼李里理力历立丽利连联脸练良两亮料林领令流六龙楼路旅绿律论落妈马买卖满慢忙毛么美门"
    "梦米密免面民明名命模母木目拿哪那男南难脑内能你年念娘鸟您牛农女怕排派盘判旁跑配朋皮片票品平破普七期齐其奇"
    "起气汽器千前钱强桥切亲青轻清情请庆秋求区取去趣全确群然让热人认任日容肉如入软三色山善商上少社身深神生声省"
    "师十石时识实史使始世市式事是室收手首受书树数双水顺说司思死四送苏诉算虽随岁孙所他她台太谈汤堂特提题体天条"
    "铁听停通同头图土团推腿外完玩晚万王网往望危围为位味温文问我屋无五午武舞物西希息习洗喜系细下夏先鲜现线相香"
    "想向象小校笑些写谢心新信星行形醒兴性姓休修需许续选学雪血压呀研眼演羊阳样药要也业叶夜一衣医依以易意因音银"
    "引应英影映永用优由油游友有又右鱼语雨玉育元园原员远院愿月越云运再在早造则怎增展站张找照者这真整正证之支知"
)
_WORDS = (
    "account bank card code verify police officer court case number phone call message link click login password "
    "transfer money payment refund order delivery package parcel prize lottery winner loan credit limit fee deposit "
    "tax insurance claim investment stock crypto coin profit return teacher group task commission job salary "
    "training security safe frozen blocked suspended illegal warrant arrest secret family friend boss relative "
    "urgent emergency hospital accident customs shipment courier agent support service center office department "
    "government bureau ministry station app download install screen share remote meeting video chat platform "
    "wallet gift voucher coupon points reward bonus member vip upgrade renewal subscription cancel penalty fine "
    "debt record report audit check update confirm identity document passport license address birthday pension "
    "benefit subsidy grant lucky draw jackpot bet casino game item skin trade seller buyer market discount cheap"
).split()
_FILLER_ZH = "我他她说是在有这个那就也都要会对把被给让跟和了吗呢吧啊的地得很刚才今天昨天电话里面说要我先"
_FILLER_EN = "he she they said told me that my and the a to is was on in for from with please now just".split()


def _zh(rng: random.Random) -> str:
    return "".join(rng.choice(_HANZI) for _ in range(rng.choice((3, 4, 4, 5, 5, 6, 7, 8))))


def _en(rng: random.Random) -> str:
    return " ".join(rng.sample(_WORDS, rng.choice((2, 2, 2, 3))))


def _phrases(rng: random.Random, k: int) -> list[str]:
    out: dict[str, None] = {}
    while len(out) < k:
        out[_zh(rng) if rng.random() < 0.65 else _en(rng)] = None
    return list(out)


def _rule(rng: random.Random, i: int, category: str) -> dict:
    names = rng.sample(["claim", "threat", "demand", "secrecy", "bait", "channel"], rng.randint(3, 5))
    groups = [{"name": n, "weight": rng.choice((30, 35, 40)), "phrases": _phrases(rng, rng.randint(5, 15))}
              for n in names]
    for g in groups:
        if rng.random() < 0.1:
            g["fuzzy"] = False
    body: dict = {"id": f"bench-{i:05d}", "category": category}
    loc = {"zh-Hans": f"合成规则{i}", "zh-Hant": f"合成規則{i}", "en": f"Synthetic rule {i}"}
    body["title"] = loc
    body["advice"] = {"zh-Hans": ["立刻挂断。", "不要转账。"], "zh-Hant": ["立刻掛斷。", "不要轉帳。"],
                      "en": ["Hang up now.", "Do not transfer money."]}
    if rng.random() < 0.3:
        body["requires"] = [names[0]]
    if rng.random() < 0.2:
        groups.append({"name": "legit", "weight": -rng.choice((20, 30)), "phrases": _phrases(rng, rng.randint(5, 10))})
    body["groups"] = groups
    positive = [g for g in groups if g["weight"] > 0]
    match = []
    for k in range(8):
        chosen = rng.sample(positive, 2)
        if body.get("requires") and not any(g["name"] == names[0] for g in chosen):
            chosen[0] = positive[0]
        phrases = [rng.choice(g["phrases"]) for g in chosen]
        if k % 3 == 2:
            match.append(" ".join([rng.choice(_FILLER_EN), phrases[0], rng.choice(_FILLER_EN), phrases[1], "now"]))
        else:
            match.append(rng.choice(_FILLER_ZH) + phrases[0] + "，" + rng.choice(_FILLER_ZH) + phrases[1])
    no_match = ["".join(rng.choice(_FILLER_ZH) for _ in range(12)) if k % 2 == 0
                else " ".join(rng.choice(_FILLER_EN) for _ in range(8)) for k in range(5)]
    body["examples"] = {"match": list(dict.fromkeys(match)) + [f"{match[0]}。"] * (8 - len(set(match))),
                        "no_match": list(dict.fromkeys(no_match)) + [f"{no_match[0]} x"] * (5 - len(set(no_match)))}
    return body


def _dump(doc: dict) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(doc, Dumper=dumper, allow_unicode=True, sort_keys=False, width=10_000)


def rule_file(n_rules: int, seed: int = 1, template: Path = ROOT / "rules" / "scam_patterns.yaml") -> Path:
    """A valid rule file of ``n_rules`` synthetic rules (cached): rules whose
    examples fail are replaced until every example passes."""
    import hashlib

    from callguard.detect import RuleFileError, build

    stamp = hashlib.sha256(template.read_bytes() + GENERATOR.encode()).hexdigest()[:8]
    path = CACHE / f"reload-{n_rules}-{seed}-{stamp}.yaml"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    head = yaml.load(template.read_bytes(), Loader=loader)
    head.pop("rules", None)
    head["version"] = f"bench-{n_rules}-{seed}"
    categories = [c for c, v in head["categories"].items() if v.get("scam", True)]
    rng = random.Random(seed)
    rules = [_rule(rng, i, categories[i % len(categories)]) for i in range(n_rules)]
    next_id = n_rules
    for _ in range(10):
        text = _dump({**head, "rules": rules})
        try:
            build(text.encode(), str(path))
            break
        except RuleFileError as exc:
            bad = {m.group(1) for p in exc.problems if (m := re.search(r"rule '([^']+)'", p.message))}
            if not bad:
                raise
            print(f"  replacing {len(bad)} rule(s) whose examples fail", file=sys.stderr)
            for k, rule in enumerate(rules):
                if rule["id"] in bad:
                    rules[k] = _rule(rng, next_id, rule["category"])
                    next_id += 1
    else:
        raise RuntimeError("could not make a valid synthetic rule file")
    path.write_text(text, encoding="utf-8")
    return path


def edited(text: str, tag: str) -> str:
    """One rule edited: a phrase added to the first group of the middle rule."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc = yaml.load(text, Loader=loader)
    rule = doc["rules"][len(doc["rules"]) // 2]
    rule["groups"][0]["phrases"].append(f"新增短语{tag}")
    return _dump(doc)


# --------------------------------------------------------------------------- 0. hostile files refused


def alias_bomb() -> bytes:
    """The attack of issue 12, item 1: under 500 bytes and 70 aliases (under
    the 200-alias cap), each list repeating the previous one 10 times: 10^7
    values once spelled out, given as the ``schema``. It froze the bot for
    34 s (2.9 GB) and `callguard rules lint` for 83 s (4.3 GB): the message
    "schema must be 2 (found ...)" built the repr of the expanded value."""
    lines = ["l0: &l0 [lol]"]
    for i in range(1, 8):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    lines.append("schema: *l7")
    return ("\n".join(lines) + "\n").encode()


def many_phrases(total: int = 100_000, template: Path = SHIPPED) -> bytes:
    """Issue 12, item 2: a file that passes every other check with ``total``
    phrases more, in groups under the per-group cap (2,000): only the cap on
    the phrases of the whole file refuses it."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc = yaml.load(template.read_bytes(), Loader=loader)
    rule = doc["rules"][0]
    per_group = 2_000
    rule["groups"] = list(rule["groups"]) + [
        {"name": f"bulk{g}", "weight": 1, "patterns": [f"短语{g}x{i}" for i in range(per_group)]}
        for g in range(total // per_group)]
    return _dump(doc).encode()


def _peak_rss_mb(pid: int) -> float:
    """The peak resident memory of process ``pid`` so far (Linux: VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_LINT = """
import json, resource, sys, time
from callguard.cli import main
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cpu, wall = time.process_time(), time.perf_counter()
status = main(["rules", "lint", sys.argv[1]])
print(json.dumps({"status": status, "cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
                  "grew_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}), file=sys.stderr)
"""


def refusals() -> dict:
    """Part 0: each hostile file refused by the worker that checks reloads
    (its CPU time for the check, and how much its peak memory grew over the
    worker's own after a first request) and by ``callguard rules lint`` (its
    own process: CPU, wall, and the growth of its peak memory after imports)."""
    import subprocess

    from callguard.rulebuild import BuildWorker

    out = {}
    for name, data in (("alias bomb", alias_bomb()), ("100,000 phrases", many_phrases())):
        worker = BuildWorker()
        try:
            worker.check(b"schema: 2\n", "warm-up.yaml")  # started, imports done, regression set read
            before = _peak_rss_mb(worker.pid)
            checked = worker.check(data, "hostile.yaml", SHIPPED.read_bytes(), SHIPPED.name)
            grew = _peak_rss_mb(worker.pid) - before
        finally:
            worker.close()
        path = CACHE / f"hostile-{len(data)}.yaml"
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        run = subprocess.run([sys.executable, "-c", _LINT, str(path)], capture_output=True, text=True, timeout=600)
        lint = json.loads(run.stderr.strip().splitlines()[-1])
        out[name] = {"bytes": len(data), "refused": bool(checked.problems) and lint["status"] == 1,
                     "problem": str(checked.problems[0])[:120] if checked.problems else "",
                     "worker_cpu_s": checked.timings["cpu"], "worker_wall_s": checked.timings["total"],
                     "worker_grew_mb": grew, "lint_cpu_s": lint["cpu_s"], "lint_wall_s": lint["wall_s"],
                     "lint_grew_mb": lint["grew_mb"]}
    return out


# --------------------------------------------------------------------------- 1. the handover, in this process


async def longest_stall(make_work) -> tuple[float, float, object]:
    """Await ``make_work()`` (the bot's reading on the loop, or work in a thread)
    while this event loop ticks every millisecond: (seconds it took, the longest
    gap between ticks, its result)."""
    gaps: list[float] = []
    done = False

    async def tick() -> None:
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    result = await make_work()
    took = time.perf_counter() - started
    done = True
    await ticker
    return took, max(gaps, default=0.0), result


def handover(path: Path, runs: int) -> dict:
    """Part 1: the worker's stages, the pickle, and what the bot's process pays."""
    import gc

    from callguard.detect import Detector, parse_rules
    from callguard.rulebuild import BuildWorker

    data, live = path.read_bytes(), SHIPPED.read_bytes()
    rows = []
    for _ in range(runs):
        worker = BuildWorker()  # a fresh worker each run: a first load, nothing to reuse
        try:
            checked = worker.check(data, path.name, live, SHIPPED.name)
        finally:
            worker.close()
        took, stall, detector = asyncio.run(longest_stall(checked.load_on_loop))
        del detector
        gc.collect()
        ruleset = parse_rules(data, path.name)
        compile_took, compile_stall, detector = asyncio.run(longest_stall(lambda: asyncio.to_thread(Detector, ruleset)))
        row = {k: v for k, v in checked.timings.items() if isinstance(v, float)}
        row.update(unpickle=took, unpickle_stall=stall, compile_in_bot=compile_took, compile_stall=compile_stall,
                   patterns=detector.matcher.phrase_count)
        rows.append(row)
        del detector, ruleset
        gc.collect()
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


# --------------------------------------------------------------------------- 2. the real bot


class Bot:
    """``python -m bot run`` against the fake Bot API, in its own process."""

    def __init__(self, api, workdir: Path, rules: Path, detect_workers: int | None = None):
        self.api, self.workdir, self.rules = api, workdir, rules
        self.detect_workers = detect_workers  # None: the bot's default
        self.log = workdir / "callguard.log"

    async def start(self, timeout: float = 300) -> None:
        env = clean_env(TELEGRAM_BOT_TOKEN=self.api.token, CALLGUARD_BOT_API_URL=self.api.base_url,
                        CALLGUARD_BOT_FILE_URL=self.api.base_file_url, CALLGUARD_DB=str(self.workdir / "callguard.db"),
                        CALLGUARD_RULES=str(self.rules), CALLGUARD_ADMINS=str(ADMIN), CALLGUARD_SEND_RATE="0",
                        CALLGUARD_RATE_LIMIT="10000", CALLGUARD_SECRET="bench")
        if self.detect_workers is not None:
            env["CALLGUARD_DETECT_WORKERS"] = str(self.detect_workers)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self._logfile = open(self.log, "wb")
        self.proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "callguard", "run", env=env,
                                                         cwd=self.workdir, stdout=self._logfile,
                                                         stderr=self._logfile)
        # Ready when it polls (it validates and compiles the rules first).
        await self.api.wait_until(lambda: self.api.counts["getUpdates"] > 0 or self.proc.returncode is not None,
                                  timeout=timeout, description="the bot to start polling")
        if self.proc.returncode is not None:
            raise RuntimeError(f"the bot exited at start; see {self.log}")
        # Polling comes before the detection workers have built their rules (seconds): users
        # measured meanwhile wait for that, and "before the reload" would measure the start.
        deadline = time.perf_counter() + timeout
        while self.detect_workers != 0 and b"detection workers ready" not in self.log.read_bytes():
            if self.proc.returncode is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"the detection workers never took the rules; see {self.log}")
            await asyncio.sleep(0.1)
        # The first replies after a start are the slowest (first database writes, first replies
        # of each kind): a few users first, so that the measured ones meet a running bot.
        mark = self.api.mark()
        warm = range(900, 920)
        for user in warm:
            self.api.push_message("有人自称通信管理局，说我的号码要被冻结", user_id=user, language_code="zh-hans")
        await self.api.wait_until(lambda: {c.params.get("chat_id") for c in self.api.requests[mark:]
                                           if c.method == "sendMessage"} >= set(warm),
                                  timeout=60, description="the warm-up replies")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 60)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._logfile.close()

    def breakdown(self, version: str) -> dict:
        """The bot's own log line for ``version`` going live: seconds in total
        and per stage (parse, compile, examples, compare in the worker; load:
        unpickling in the bot)."""
        head = re.compile(rf"rules {version} live: \d+ rules from .* \((?P<total>[\d.]+) s: (?P<stages>[^)]*)\)")
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines()[::-1]:
            m = head.search(line)
            if m:
                out = {"total": float(m["total"])}
                out.update((k, float(v)) for k, v in re.findall(r"(\w+) ([\d.]+) s", m["stages"]))
                return out
        return {}


def worker_loads(log: Path) -> str:
    """How the bot's detection workers took each rule set (its log): after a reload they read
    the rule builder's compiled candidate ("compiled"); at start they build it ("built")."""
    found: dict[str, list[float]] = {}
    pattern = re.compile(r"detection worker \d+ took rules \w+ \((\w+), ([\d.]+) s\)")
    for how, seconds in pattern.findall(log.read_text(encoding="utf-8", errors="replace")):
        found.setdefault(how, []).append(float(seconds))
    if not found:
        return "detection workers: none (judged on the event loop)"
    return "detection workers took the rules: " + ", ".join(
        f"{len(v)} {how} (max {max(v):.2f} s)" for how, v in sorted(found.items()))


def _pct(data: list[float], p: float) -> float:
    data = sorted(data)
    return data[min(len(data) - 1, int(round(p * (len(data) - 1))))] if data else float("nan")


def _summary(latencies: list[float]) -> dict:
    return {"count": len(latencies), "p50_ms": 1000 * _pct(latencies, 0.5), "p90_ms": 1000 * _pct(latencies, 0.9),
            "p99_ms": 1000 * _pct(latencies, 0.99), "max_ms": 1000 * max(latencies, default=float("nan"))}


async def reload_under_load(api, bot: Bot, rules: Path, new_text: str | None, texts: list[str], rate: float,
                            user_base: int, before: float = 3.0, after: float = 1.0, approve: bool = False) -> dict:
    """Users send ``rate`` messages/s; after ``before`` seconds the admin sends
    /reload (with ``new_text`` written to the rule file first, None = unchanged,
    approved first when ``approve``); the load goes on until ``after`` seconds
    past the admin's answer."""
    from callguard.rulebook import approve as approve_content

    pushes: list[tuple[int, float]] = []  # (user id, perf_counter at push)
    done = asyncio.Event()
    rng = random.Random(user_base)

    async def load() -> None:
        interval = 1.0 / rate
        start = time.perf_counter()
        k = 0
        while not done.is_set():
            target = start + k * interval
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            user = user_base + k
            api.push_message(rng.choice(texts), user_id=user, language_code="zh-hans")
            pushes.append((user, time.perf_counter()))
            k += 1

    loader = asyncio.create_task(load())
    await asyncio.sleep(before)
    if new_text is not None:
        if approve:
            approve_content(rules, new_text.encode("utf-8"))
        tmp = rules.with_name(rules.name + ".new")
        tmp.write_text(new_text, encoding="utf-8")
        os.replace(tmp, rules)
    mark = api.mark()
    t0 = time.perf_counter()
    api.push_command("/reload", user_id=ADMIN, language_code="en")
    answer = await api.wait_for("sendMessage", lambda c: c.params.get("chat_id") == ADMIN, since=mark, timeout=900)
    t1 = answer.at
    await asyncio.sleep(after)
    done.set()
    await loader
    await api.wait_until(lambda: api.pending_replies == 0, timeout=60, description="the last replies")

    replied: dict[int, float] = {}
    for call in api.requests:
        if call.method == "sendMessage" and call.ok:
            replied.setdefault(call.params.get("chat_id"), call.at)
    base, during, slowest, slowest_before = [], [], [], []
    for user, at in pushes:
        if user not in replied:
            continue
        (during if t0 <= at <= t1 else base if at < t0 else []).append(replied[user] - at)
        if t0 <= at <= t1:
            slowest.append((round(1000 * (replied[user] - at)), round(at - t1, 2)))
        elif at < t0:
            slowest_before.append((round(1000 * (replied[user] - at)), round(at - t0, 2)))
    text = answer.params["text"]
    version = re.search(r"→ (\w+)", text)
    return {"reload_wall_s": t1 - t0, "answer": text.splitlines()[0],
            "bot_timings": bot.breakdown(version.group(1)) if version else {},
            "before": _summary(base), "during": _summary(during),
            # The slowest replies during the reload: (ms, pushed how many seconds before the answer).
            "slowest": sorted(slowest, reverse=True)[:8],
            "slowest_before": sorted(slowest_before, reverse=True)[:8],  # (ms, s before the /reload)
            "unanswered": len([u for u, _ in pushes if u not in replied])}


def user_texts(path: Path = SHIPPED) -> list[str]:
    """What users send: the shipped rules' examples (scams and benign)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    return [t for r in doc["rules"] for t in r["examples"]["match"][:3] + r["examples"]["no_match"][:2]]


async def online(path: Path, runs: int, rate: float, kinds: tuple[str, ...] = ("same", "new", "edit"),
                 workdir: Path | None = None, before: float = 3.0, detect_workers: int | None = None) -> dict:
    """Part 2: one bot process serving the shipped rules, then ``kinds``
    reloads per run (see the module docstring), each after ``before`` seconds
    of users alone (their latency: the reference)."""
    import gc

    # This process's collector is off meanwhile (as in bench_flood.py): its full
    # collections over the thousands of requests the fake server records stall
    # the fake server for 0.1-0.3 s, which would show up as the bot's latency.
    gc.collect()
    gc.disable()
    try:
        return await _online(path, runs, rate, kinds, workdir, before, detect_workers)
    finally:
        gc.enable()


async def _online(path: Path, runs: int, rate: float, kinds: tuple[str, ...], workdir: Path | None,
                  before: float, detect_workers: int | None = None) -> dict:
    from tests.support.fake_bot_api import FakeBotAPI

    big = path.read_text(encoding="utf-8")
    shipped = SHIPPED.read_text(encoding="utf-8")
    assert kinds.index("new") < kinds.index("edit") if "edit" in kinds else True, "an edit edits the big file"
    texts = user_texts()
    results: dict[str, list[dict]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="callguard-bench-reload-") as tmp:
        workdir = workdir or Path(tmp)
        rules = workdir / "rules.yaml"
        rules.write_text(shipped, encoding="utf-8")
        async with FakeBotAPI() as api:
            bot = Bot(api, workdir, rules, detect_workers)
            await bot.start()
            try:
                user = 1_000_000
                for run in range(runs):
                    if run:  # back to the shipped rules (not measured)
                        await reload_under_load(api, bot, rules, shipped, texts, rate, user, before=0.5, after=0.0,
                                                approve=True)
                        user += 100_000
                    for kind in kinds:
                        new = {"same": None, "new": big, "edit": edited(big, str(run))}[kind]
                        r = await reload_under_load(api, bot, rules, new, texts, rate, user, before=before,
                                                    approve=True)
                        user += 100_000
                        results[kind].append(r)
                        print(f"  run {run + 1} {kind}: reload {r['reload_wall_s']:.3f} s; p99 before "
                              f"{r['before']['p99_ms']:.1f} ms, during {r['during']['p99_ms']:.1f} ms "
                              f"({r['during']['count']} replies)", file=sys.stderr)
            finally:
                await bot.stop()
                print(f"  {worker_loads(bot.log)}", file=sys.stderr)

    def median(rows: list[dict]) -> dict:
        out = {"reload_wall_s": statistics.median(r["reload_wall_s"] for r in rows), "answer": rows[-1]["answer"],
               "slowest": rows[-1]["slowest"],
               "unanswered": sum(r["unanswered"] for r in rows)}
        for key in ("before", "during"):
            counted = [r for r in rows if r[key]["count"]]
            out[key] = {k: statistics.median(r[key][k] for r in counted) if counted else float("nan")
                        for k in rows[0][key]}
            out[key]["count"] = sum(r[key]["count"] for r in rows)
        timings = [r["bot_timings"] for r in rows if r["bot_timings"]]
        keys = set.intersection(*(set(t) for t in timings)) if timings else set()
        out["bot_timings"] = {k: statistics.median(t[k] for t in timings) for k in sorted(keys)}
        return out

    return {kind: median(rows) for kind, rows in results.items()}


# --------------------------------------------------------------------------- report


def report(n_rules: int, path: Path, off: dict, on: dict, rate: float, runs: int, refused: dict | None = None) -> str:
    lines = [f"Reload benchmark: {n_rules} rules ({path.stat().st_size / 1e6:.1f} MB), {runs} run(s), "
             f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPU(s)", ""]
    if not (off or on):
        lines = [f"Reload benchmark, {platform.python_implementation()} {platform.python_version()}, "
                 f"{os.cpu_count()} CPU(s)", ""]
    if refused:
        cpu, mb = REFUSAL_TARGET
        lines.append(f"0. Hostile files refused (target: < {cpu:g} s of CPU and < {mb:.0f} MB):")
        lines.append(f"   {'file':16} {'bytes':>9}  {'worker: cpu s / wall s / +MB':30} {'rules lint: cpu s / wall s / +MB':32}")
        for name, r in refused.items():
            lines.append(f"   {name:16} {r['bytes']:9,}  {r['worker_cpu_s']:6.2f} / {r['worker_wall_s']:6.2f} / "
                         f"{r['worker_grew_mb']:6.1f}         {r['lint_cpu_s']:6.2f} / {r['lint_wall_s']:6.2f} / "
                         f"{r['lint_grew_mb']:6.1f}   {'refused' if r['refused'] else 'NOT REFUSED'}")
            lines.append(f"   {'':16} {r['problem']}")
        lines.append("")
    if off:
        lines.append(f"1. The handover (median), {off['patterns']:.0f} patterns:")
        lines.append("   worker, s:  " + "  ".join(f"{k} {off[k]:.2f}" for k in
                                                  ("parse", "compile", "examples", "compare", "pickle", "total")
                                                  if k in off) + f"   pickle {off['pickle_mb']:.1f} MB")
        lines.append(f"   bot:        unpickle {off['unpickle']:.3f} s, longest event-loop stall "
                     f"{1000 * off['unpickle_stall']:.0f} ms")
        lines.append(f"   instead:    compile in a bot thread {off['compile_in_bot']:.3f} s, longest stall "
                     f"{1000 * off['compile_stall']:.0f} ms")
    if on:
        lines += ["", f"2. The bot under load ({rate:g} messages/s from new users), median of runs:"]
        lines.append(f"   {'reload':7} {'wall s':>7}  {'bot stages, s':46} "
                     f"{'user p50/p99/max ms before':27} {'during (replies)':24}")
        for kind, r in on.items():
            t = r["bot_timings"]
            parts = " ".join(f"{k} {v:.2f}" for k, v in t.items() if k != "total") if t else "(nothing to do)"
            b, d = r["before"], r["during"]
            lines.append(f"   {kind:7} {r['reload_wall_s']:7.3f}  {parts:46} "
                         f"{b['p50_ms']:6.1f}/{b['p99_ms']:6.1f}/{b['max_ms']:6.1f}      "
                         f"{d['p50_ms']:6.1f}/{d['p99_ms']:6.1f}/{d['max_ms']:6.1f} ({d['count']})")
        lines += ["", f"   target: users' p99 under {TARGET_P99_MS:.0f} ms during any reload; unanswered messages: "
                  f"{sum(on[k]['unanswered'] for k in on)}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=1000, help="rules in the file (default 1000)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one run of each")
    parser.add_argument("--rate", type=float, default=20.0, help="user messages per second (default 20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-bot", action="store_true", help="only part 1")
    parser.add_argument("--no-handover", action="store_true", help="only part 2")
    parser.add_argument("--only-refusals", action="store_true", help="only part 0 (seconds)")
    parser.add_argument("--detect-workers", type=int, metavar="N",
                        help="the bot's detection worker processes in part 2 (default: the bot's default)")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    print("hostile files refused...", file=sys.stderr)
    refused = refusals()
    if args.only_refusals:
        print(report(args.rules, SHIPPED, {}, {}, args.rate, runs, refused))
        return 0 if all(r["refused"] for r in refused.values()) else 1
    print(f"generating/checking the {args.rules}-rule file...", file=sys.stderr)
    path = rule_file(args.rules, args.seed)
    off: dict = {}
    if not args.no_handover:
        print("the handover, in process...", file=sys.stderr)
        off = handover(path, runs)
    on: dict = {}
    if not args.no_bot:
        print("the bot under load...", file=sys.stderr)
        on = asyncio.run(online(path, runs, args.rate, detect_workers=args.detect_workers))
    print(report(args.rules, path, off, on, args.rate, runs, refused))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rules": args.rules, "runs": runs, "rate": args.rate, "refusals": refused,
                                   "handover": off, "online": on}, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0 if all(r["refused"] for r in refused.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
