"""Screenshot benchmark: how well and how fast CallGuard reads pictures, and what that costs text users.

    python bench/bench_ocr.py              # 18 texts x 12 looks = 216 screenshots, then the load scenario
    python bench/bench_ocr.py --quick      # 18 x 3 = 54 screenshots, a shorter load scenario
    python bench/bench_ocr.py --only accuracy|load

Needs the ``ocr`` extra and a CJK font (Debian: fonts-wqy-microhei or fonts-noto-cjk).

1. accuracy: every text of tests/support/screenshots.py (scam and benign SMS, chats and a
   notice in Simplified Chinese, Traditional Chinese and English) drawn as phone screenshots
   in varied looks (720-1242 pixels wide, light or dark, with or without a status bar, PNG or
   JPEG at quality 70-92, text 0.85-1.15x), read by the engine exactly as a worker reads
   them (``callguard.ocr.engine.read_image``: bounded decoding, scaled to 720 wide, one
   thread), in this process. Reported:

   * character error rate (CER): edit distance between every line drawn (status bar and
     title included) and every line read, over the characters drawn, after Unicode NFKC and
     with whitespace removed; per language and overall, and the share of screenshots above 5 %;
     also after the detector's own normalisation (Traditional folded to Simplified,
     punctuation dropped), which is what judging sees;
   * verdict agreement: the verdict on what was read equals the verdict on the text drawn
     (same scam flag, risk and category), and only the scam flag;
   * seconds per picture, wall clock and CPU, p50/p99/max (the first picture of a process
     loads the models; that is reported apart).

2. load: the bot as in production (``python -m callguard run``, one OCR worker) against the
   fake Bot API in this process. Five users each send a screenshot at the same moment while
   text users keep writing (one message each, 20 a second); reported: the text users' reply
   latency (push to the fake server receiving the ``sendMessage``) p50/p99 while the pictures
   are read, the same traffic with no pictures as the reference, and when each picture was
   answered. The target: text p99 <= 300 ms.

Results are printed and written to bench/results/ocr.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.reliability.support import BotProcess, RULES, percentile  # noqa: E402
from tests.support.env import clean_env  # noqa: E402
from tests.support.screenshots import SAMPLES, Style, cjk_font_path, render, styles  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "ocr.json"
PICTURE_USERS = range(500, 505)
TEXT_USERS_FROM = 10_000
TEXT = "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户"


def corpus(looks: int, seed: int = 13):
    """(sample, style) pairs: every sample in ``looks`` styles, the styles drawn in turn."""
    drawn = list(styles(looks * len(SAMPLES), seed=seed))
    return [(SAMPLES[i % len(SAMPLES)], style) for i, style in enumerate(drawn)]


def _plain(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def _same(a, b) -> bool:
    return (a.scam, a.risk, a.category) == (b.scam, b.risk, b.category)


def accuracy(looks: int) -> dict:
    from rapidfuzz.distance import Levenshtein

    from callguard.config import DEFAULT_RULES
    from callguard.detect import Detector, load_rules
    from callguard.detect.normalize import normalize
    from callguard.ocr import engine
    from callguard.ocr.text import combine

    detector = Detector(load_rules(DEFAULT_RULES))
    started, cpu = time.perf_counter(), time.process_time()
    engine.warm_up()
    load = {"wall_s": round(time.perf_counter() - started, 2), "cpu_s": round(time.process_time() - cpu, 2)}
    per_lang: dict[str, dict] = {}
    walls, cpus, over, misjudged = [], [], [], []
    same = same_scam = 0
    pairs = corpus(looks)
    for sample, style in pairs:
        shot = render(sample, style)
        started, cpu = time.perf_counter(), time.process_time()
        read = engine.read_image(shot.data)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        truth, got = _plain("".join(shot.lines)), _plain("".join(read.lines))
        folded_truth, folded_got = normalize("".join(shot.lines)), normalize("".join(read.lines))
        errors = Levenshtein.distance(truth, got)
        lang = per_lang.setdefault(sample.lang, {"screenshots": 0, "chars": 0, "errors": 0, "folded_chars": 0,
                                                 "folded_errors": 0})
        lang["screenshots"] += 1
        lang["chars"] += len(truth)
        lang["errors"] += errors
        lang["folded_chars"] += len(folded_truth)
        lang["folded_errors"] += Levenshtein.distance(folded_truth, folded_got)
        if errors > 0.05 * len(truth):
            over.append({"id": sample.id, "style": style.__dict__, "cer": round(errors / len(truth), 3),
                         "drawn": "|".join(shot.lines), "read": "|".join(read.lines)})
        expected = detector.check("\n".join(shot.lines))
        verdict = detector.check(combine(None, read.lines).text)
        same += _same(verdict, expected)
        same_scam += verdict.scam == expected.scam
        if not _same(verdict, expected):
            misjudged.append({"id": sample.id, "style": style.__dict__, "expected": expected.to_json(),
                              "got": verdict.to_json(), "read": "|".join(read.lines)})
    chars = sum(v["chars"] for v in per_lang.values())
    errors = sum(v["errors"] for v in per_lang.values())
    folded = sum(v["folded_errors"] for v in per_lang.values()) / sum(v["folded_chars"] for v in per_lang.values())
    return {
        "screenshots": len(pairs),
        "cer": round(errors / chars, 4),
        "cer_after_normalisation": round(folded, 4),
        "cer_by_language": {k: round(v["errors"] / v["chars"], 4) for k, v in sorted(per_lang.items())},
        "cer_after_normalisation_by_language": {k: round(v["folded_errors"] / v["folded_chars"], 4)
                                                for k, v in sorted(per_lang.items())},
        "screenshots_over_5_percent": len(over),
        "verdict_agreement": round(same / len(pairs), 4),
        "scam_flag_agreement": round(same_scam / len(pairs), 4),
        "seconds_per_picture": {
            "wall_p50": round(statistics.median(walls), 3), "wall_p99": round(percentile(walls, 0.99), 3),
            "wall_max": round(max(walls), 3), "cpu_p50": round(statistics.median(cpus), 3),
            "cpu_p99": round(percentile(cpus, 0.99), 3)},
        "model_load": load,
        "over_5_percent": over[:20],
        "misjudged": misjudged[:20],
    }


# --------------------------------------------------------------------------- load


class Bot:
    """A fresh fake Bot API and ``python -m callguard run`` with one OCR worker, warmed up:
    it has answered a text and a picture (so the worker has loaded its models)."""

    def __init__(self, workdir: Path, picture: bytes, size: tuple[int, int]):
        self.workdir, self.picture, self.size = workdir, picture, size

    async def __aenter__(self):
        from tests.support.fake_bot_api import FakeBotAPI

        self.api = await FakeBotAPI().start()
        env = clean_env(TELEGRAM_BOT_TOKEN=self.api.token, CALLGUARD_BOT_API_URL=self.api.base_url,
                        CALLGUARD_DB=str(self.workdir / "ocr.db"), CALLGUARD_RULES=str(RULES),
                        CALLGUARD_SECRET="bench", CALLGUARD_SEND_RATE="0", CALLGUARD_RATE_LIMIT="10000",
                        CALLGUARD_OCR_WORKERS="1")
        self.bot = BotProcess(env, self.workdir, "bench-ocr-bot")
        await self.bot.start()
        self.api.push_message("hello", user_id=1)
        self.api.push_photo((self.picture, *self.size), user_id=2)
        await self.bot.until(self.api, lambda: len(self.replies({1, 2})) == 2, timeout=120,
                             description="the warm-up replies")
        self.api.clear()
        return self

    async def __aexit__(self, *exc):
        await self.bot.stop()
        await self.api.stop()

    def replies(self, chats) -> dict[int, float]:
        out: dict[int, float] = {}
        for c in self.api.requests:
            if c.method == "sendMessage" and c.ok and c.params.get("chat_id") in chats:
                out.setdefault(c.params["chat_id"], c.at)
        return out


async def text_while_pictures(workdir: Path, pictures: list[tuple[bytes, tuple[int, int]]], *,
                              rate: float = 20.0, min_seconds: float = 8.0) -> dict:
    """Text users write at ``rate`` a second; ``pictures`` (may be none: the reference) arrive
    at once from five users. The text traffic lasts until every picture is answered."""
    async with Bot(workdir, *pictures_or_warm_up(pictures)) as run:
        api = run.api
        started = time.perf_counter()
        for uid, (data, size) in zip(PICTURE_USERS, pictures):
            api.push_photo((data, *size), user_id=uid)
        sent: dict[int, float] = {}
        uid = TEXT_USERS_FROM
        while True:
            elapsed = time.perf_counter() - started
            pictures_done = len(run.replies(set(PICTURE_USERS))) == len(pictures)
            if elapsed >= min_seconds and pictures_done:
                break
            if elapsed > 300:
                raise TimeoutError("pictures not answered within 300 s")
            while len(sent) < elapsed * rate:
                api.push_message(f"{TEXT} #{uid}", user_id=uid)
                sent[uid] = time.perf_counter()
                uid += 1
            await asyncio.sleep(0.01)
        await run.bot.until(api, lambda: len(run.replies(set(sent))) == len(sent), timeout=60,
                            description="every text answered")
        answered = run.replies(set(sent))
        latencies = [answered[u] - sent[u] for u in sent]
        picture_times = sorted(at - started for at in run.replies(set(PICTURE_USERS)).values())
        return {"pictures": len(pictures), "texts": len(sent), "seconds": round(time.perf_counter() - started, 1),
                "text_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
                "text_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                "text_max_ms": round(max(latencies) * 1000, 1),
                "pictures_answered_after_s": [round(t, 2) for t in picture_times]}


def pictures_or_warm_up(pictures):
    return pictures[0] if pictures else load_pictures()[0]


def load_pictures(width: int = 1080) -> list[tuple[bytes, tuple[int, int]]]:
    """Five screenshots as Telegram sends photos: ``width`` wide, JPEG."""
    chosen = [s for s in SAMPLES if s.id in ("sms-freeze-hans", "chat-kid-hant", "sms-parcel-en",
                                              "chat-task-hans", "sms-clinic-hant")]
    shots = [render(sample, Style(width=width, jpeg_quality=87)) for sample in chosen]
    return [(shot.data, shot.size) for shot in shots]


async def load(seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="callguard-ocr-") as tmp:
        out = {}
        for name, pictures in (("text_alone", []), ("text_while_5_pictures", load_pictures())):
            workdir = Path(tmp) / name
            workdir.mkdir()
            print(f"{name} ...", file=sys.stderr, flush=True)
            out[name] = await text_while_pictures(workdir, pictures, min_seconds=seconds)
            print(json.dumps({name: out[name]}), flush=True)
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 looks per text, a shorter load scenario")
    parser.add_argument("--only", choices=("accuracy", "load"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from callguard import ocr

    if not ocr.available():
        raise SystemExit(f"bench_ocr: {ocr.MISSING}")
    if cjk_font_path() is None:
        raise SystemExit("bench_ocr: no CJK font to draw screenshots with (apt-get install fonts-wqy-microhei)")
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "platform": platform.platform(), "load_average": os.getloadavg()},
               "quick": args.quick}
    if args.only in (None, "accuracy"):
        print("accuracy ...", file=sys.stderr, flush=True)
        results["accuracy"] = accuracy(3 if args.quick else 12)
        print(json.dumps({"accuracy": results["accuracy"]}, indent=2, ensure_ascii=False), flush=True)
    if args.only in (None, "load"):
        results["load"] = asyncio.run(load(5.0 if args.quick else 10.0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
