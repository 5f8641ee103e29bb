"""The learned second opinion wired into the bot and the command line: the
CALLGUARD_MODEL setting, the detection workers, /why, and warnings left alone."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from callguard.admin_texts import why_text
from callguard.config import DEFAULT_MODEL, SHIPPED_MODEL, ConfigError, Settings
from callguard.detect import Detector, load_rules
from callguard.detect.model import Model, bucket
from callguard.detection_pool import DetectionPool
from callguard.detection_worker import judge
from callguard.rulebook import RuleBook
from tests.admin_support import flow_rules

ROOT = Path(__file__).resolve().parent.parent
BITS = 16
# Nothing any scam rule looks for; a model that has learned "quokka" is sure it is a scam.
ODD = "The quokka ate the marmalade"
WARNING = ("Warning from the police: fraudsters pose as bank staff and ask you to transfer your savings to a "
           "safe account. Banks never do this.")


def quokka_model() -> Model:
    words = {"w:quokka": 20.0, "w:bank": 20.0, "w:safe": 20.0, "w:account": 20.0, "w:fraudster": 20.0}
    return Model(BITS, {bucket(f, BITS): w for f, w in words.items()}, {"zh": -3.0, "en": -2.0}, 0.9, 0.7, {})


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "quokka.cgm"
    quokka_model().save(path)
    return path


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_rules(ROOT / "rules" / "scam_patterns.yaml"))


def test_the_setting_names_a_file_or_turns_the_model_off(model_file):
    assert Settings.from_env({}).model_path == DEFAULT_MODEL is None  # off by default (bench/README.md)
    assert Settings.from_env({"CALLGUARD_MODEL": "shipped"}).model_path == SHIPPED_MODEL
    assert Settings.from_env({"CALLGUARD_MODEL": str(model_file)}).model_path == model_file
    for off in ("off", "OFF", " none "):
        assert Settings.from_env({"CALLGUARD_MODEL": off}).model_path is None
    with pytest.raises(ConfigError, match="CALLGUARD_MODEL"):
        Settings.from_env({"CALLGUARD_MODEL": str(model_file) + ".missing"})


def test_with_model_shares_the_compiled_rules(detector):
    model = quokka_model()
    twin = detector.with_model(model)
    assert twin.model is model and detector.model is None and twin.matcher is detector.matcher
    assert twin.with_model(model) is twin and detector.with_model(None) is detector
    assert detector.check(ODD).risk == "none" and twin.check(ODD).risk == "medium"


def test_a_warning_the_rules_recognised_is_not_raised(detector):
    """A forwarded warning is full of scam words on purpose: the rules tell it as a warning
    (``warns_of``) and the model, however sure, does not turn it into "a scam"."""
    plain = detector.check(WARNING)
    assert not plain.scam and plain.warns_of is not None
    assert quokka_model().probability(WARNING) >= 0.9
    assert detector.with_model(quokka_model()).check(WARNING) == plain
    assert detector.with_model(quokka_model()).explain(WARNING).verdict == plain


def test_judge_gives_the_verdict_to_the_model(detector):
    assert judge(detector, ODD, "")[0].risk == "none"
    verdict, numbers = judge(detector, ODD + " call 0412 345 678", "AU", quokka_model())
    assert verdict.risk == "medium" and verdict.scam and numbers == ("+61412345678",)


async def _check_all(pool: DetectionPool, loaded) -> list:
    await pool.start(loaded)
    try:
        deadline = time.monotonic() + 60
        while pool.size and pool.ready_workers < pool.size:
            assert time.monotonic() < deadline, "the workers did not start"
            await asyncio.sleep(0.02)
        return [await pool.check(loaded, text, key=1) for text in (ODD, "My mum asked when I'm coming for dinner")]
    finally:
        await pool.close()


async def test_the_workers_and_the_event_loop_ask_the_same_model(model_file):
    loaded = RuleBook.load(flow_rules()).live
    model = Model.load(model_file)
    in_workers = await _check_all(DetectionPool(1, model=model, model_path=model_file), loaded)
    on_the_loop = await _check_all(DetectionPool(0, model=model, model_path=model_file), loaded)
    rules_alone = await _check_all(DetectionPool(1), loaded)
    assert [v.risk for v in in_workers] == [v.risk for v in on_the_loop] == ["medium", "none"]
    assert [v.risk for v in rules_alone] == ["none", "none"]


def test_why_shows_the_models_opinion(detector):
    explanation = detector.with_model(quokka_model()).explain(ODD)
    assert explanation.verdict.risk == "medium"
    shown = why_text(explanation, detector.ruleset, "en", html=False, model=(0.987, 0.9, 0.7))
    assert "Second opinion (model): p = 0.987; raises to medium from 0.900, to low from 0.700" in shown
    assert "Second opinion" not in why_text(detector.explain(ODD), detector.ruleset, "en", html=False)
    assert "第二意见" in why_text(explanation, detector.ruleset, "zh-Hans", html=False, model=(0.987, 0.9, 0.7))


def _check(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "callguard", "check", "--json", *args], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "CALLGUARD_CACHE_DIR": "off", **env}, timeout=120)


def test_the_command_line_asks_the_configured_model_unless_told_off(model_file):
    configured = _check([ODD], {"CALLGUARD_MODEL": str(model_file)})
    assert configured.returncode == 0 and '"risk": "medium"' in configured.stdout
    off = _check(["--model", "off", ODD], {"CALLGUARD_MODEL": str(model_file)})
    assert off.returncode == 0 and '"risk": "none"' in off.stdout
    named = _check(["--model", str(model_file), ODD], {"CALLGUARD_MODEL": "off"})
    assert named.returncode == 0 and '"risk": "medium"' in named.stdout


def test_a_model_file_that_cannot_be_used_stops_with_one_line(tmp_path):
    broken = tmp_path / "broken.cgm"
    broken.write_bytes(b"not a model")
    result = _check([ODD], {"CALLGUARD_MODEL": str(broken)})
    assert result.returncode != 0 and "not a usable CallGuard model file" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_bot_refuses_a_model_file_that_cannot_be_used_before_contacting_telegram(tmp_path):
    broken = tmp_path / "broken.cgm"
    broken.write_bytes(b"CGMODEL\n")
    proc = subprocess.run([sys.executable, "-m", "callguard", "run"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "TELEGRAM_BOT_TOKEN": "123:abc", "CALLGUARD_MODEL": str(broken),
                               "CALLGUARD_BOT_API_URL": "http://127.0.0.1:9/bot",
                               "CALLGUARD_DB": str(tmp_path / "db.sqlite")}, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("callguard run: ") and "CALLGUARD_MODEL" in proc.stderr
    assert "cut short" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("lang, region, help_line", [("en", "GB", "0300 123 2040"), ("zh-Hans", "CN", "96110"),
                                                     ("zh-Hant", "TW", "165")])
def test_a_reply_raised_by_the_model_says_so_and_keeps_the_way_to_check_and_the_emergency_path(
        detector, lang, region, help_line):
    from callguard import replies
    from callguard.i18n import text as ui_text

    verdict = detector.with_model(quokka_model()).check(ODD)
    assert verdict.rule is None and verdict.risk == "medium"
    reply = replies.verdict_reply(verdict, detector.ruleset, lang, html=False, text=ODD,
                                  region=detector.ruleset.regions[region])
    assert ui_text("bot.model_only", lang) in reply  # no words to quote: says why it is still a warning
    assert detector.ruleset.texts["verify"][lang].split("{")[0][:12] in reply
    assert help_line in reply


def test_the_shipped_weights_load_and_say_what_they_learned_from():
    """The package's own model (CALLGUARD_MODEL=shipped): trained only on sources whose
    licences allow shipping what is learned from them (bench/fresh_model.py)."""
    model = Model.load(SHIPPED_MODEL)
    sources = set(model.info["sources"])
    assert {"teleantifraud", "banking77", "bothbosu_single", "crosswoz", "lccc_sample"} <= sources
    assert not sources & {"sgd", "exais_ham", "fbs_sms"}  # CC BY-SA, or no licence file
    assert any(s.startswith("fresh") for s in sources)  # the read batches, ten to a source
    assert 0.5 < model.low <= model.medium < 1
