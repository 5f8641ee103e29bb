"""The ``callguard`` command.

    callguard check "TEXT"            the reply a chat user would get
    callguard check --image FILE      the reply for a screenshot (needs callguard[ocr])
    callguard check --jsonl FILE|-    batch: one JSON verdict per input line
    callguard chat                    a console conversation, no token needed
      (check and chat take --region CODE: whose emergency numbers the replies give)
    callguard rules lint [FILE]       schema errors as file:line: message
    callguard rules test [FILE]       run every rule's embedded examples
    callguard rules migrate FILE      a schema-1 rule file rewritten as schema 2
    callguard rules check FILE        what a reload of FILE would do: problems, or changed verdicts
    callguard rules apply FILE [--force]   check FILE, then install it as the rule file
    callguard train CORPUS.jsonl --out FILE   train the optional learned second opinion
    callguard run [--webhook]         start the Telegram bot
    callguard stats --days N [--chart FILE.png]       reports by category, risk, number, feedback
    callguard bulletin --days N [--lang zh-Hans|zh-Hant|en]   the public bulletin
    callguard export --since YYYY-MM-DD --out FILE [--full-numbers]   reports as CSV

Each sub-command is a small function; the heavy lifting lives in the modules
they call, so the CLI and the bot always give the same answers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Callable, Iterable, TextIO

from .config import ConfigError, Settings
from .detect import Detector, RuleFileError, RuleSet, Verdict, detect_language, load_and_lint, load_rules
from .detect.examples import run_examples
from .detect.paid import already_paid
from .detect.regions import Region, number_regions, pick_region
from .rulefiles import unreadable
from . import i18n, replies

__all__ = ["main"]


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise SystemExit(f"callguard: {exc}") from None


def _rules_path(arg: str | None) -> Path:
    return Path(arg) if arg else _settings().rules_path


def _rules_problem(path: Path, exc: RuleFileError, *, from_command_line: bool = False) -> str:
    """Why the rule file cannot be used: it cannot be read (the path tried and
    the CALLGUARD_RULES setting), or it has errors (file:line lines)."""
    return unreadable(path, from_command_line=from_command_line) or f"the rule file has errors:\n{exc}"


def _detector(arg: str | None, model_path: str | None = None) -> Detector:
    model = None
    if model_path:  # the learned second opinion (bot/detect/model.py), opt-in
        from .detect.model import Model, ModelFileError

        try:
            model = Model.load(model_path)
        except ModelFileError as exc:
            raise SystemExit(f"callguard: {exc}") from None
    path = _rules_path(arg)
    try:
        return Detector(load_rules(path), model=model)
    except RuleFileError as exc:
        raise SystemExit(f"callguard: {_rules_problem(path, exc, from_command_line=arg is not None)}") from None


# --------------------------------------------------------------------------- regions


def _known_region(ruleset: RuleSet, code: str | None) -> str | None:
    """``code`` upper-cased when the rule file has that region; a clear error otherwise."""
    if code is None:
        return None
    if not isinstance(code, str) or code.upper() not in ruleset.regions:
        known = ", ".join(ruleset.regions) or "none"
        raise ValueError(f"unknown region {code!r} (the rule file has: {known})")
    return code.upper()


def _region_of(ruleset: RuleSet, text: str, lang: str | None, chosen: str | None) -> Region | None:
    """The region the bot would pick for ``text``: the chosen one, a phone number's
    country, the language, then CALLGUARD_REGION (see ``detect.regions.pick_region``)."""
    from .numbers import extract_numbers, number_region  # phonenumbers: only when a text is judged

    default = _settings().default_region
    read_as = number_regions(ruleset.regions, chosen=chosen, lang=lang, default=default)
    numbers = [number_region(n) for n in extract_numbers(text, read_as)]
    return pick_region(ruleset.regions, chosen=chosen, numbers=numbers, lang=lang, default=default)


def verdict_json(verdict: Verdict, ruleset: RuleSet, text: str, chosen_region: str | None = None) -> dict:
    """The batch format: the verdict's fields, plus (added, never changed) ``region``,
    the region whose help a reply would give, and ``paid``, whether the text says
    money was already sent."""
    region = _region_of(ruleset, text, detect_language(text), chosen_region)
    return {**verdict.to_json(), "region": region.code if region else None, "paid": already_paid(text)}


# --------------------------------------------------------------------------- check


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(raw: str) -> float:
    value = float(raw)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {raw[:20]} is too large for JSON")
    return value


# Strict JSON both ways: NaN, Infinity and numbers too large for a double are
# refused when reading, so nothing that is not JSON can be copied through.
_decode = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite).decode
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


def _judge_line(detector: Detector, line: str, region: str | None, images_from: Path | None) -> str:
    """One output line for one input line; raises ValueError with the reason
    a line cannot be judged or copied through."""
    try:
        record = _decode(line)
    except RecursionError:
        raise ValueError("the line is nested too deeply") from None
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    text = record.get("text")
    try:
        if isinstance(text, str):
            text.encode("utf-8")  # a lone surrogate in the text: refused before it is judged
        if "image" in record:
            text = _judge_picture_line(record, images_from)
        elif not isinstance(text, str):
            raise ValueError("the object needs a string field 'text'")
        chosen = _known_region(detector.ruleset, record["region"]) if "region" in record else region
        record["verdict"] = verdict_json(detector.check(text), detector.ruleset, text, chosen)
        out = _encode(record)
        out.encode("utf-8")  # a lone surrogate (\ud800) decodes fine but is no Unicode text
    except UnicodeEncodeError as exc:
        raise ValueError(f"the line holds a lone surrogate (\\u{ord(exc.object[exc.start]):04x}), "
                         "which is not valid Unicode text") from None
    except RecursionError:
        raise ValueError("the line is nested too deeply") from None
    return out


def batch(detector: Detector, lines: Iterable[str], out: TextIO, *, progress: bool = False, total: int | None = None,
          region: str | None = None, images_from: Path | None = None) -> int:
    """Judge one JSON object per line; write one line per input, in order.

    Other fields of each object are copied through; a line that is not a JSON
    object with a string ``text`` (or holds what is not valid JSON or Unicode
    text: NaN, Infinity, a lone surrogate, nesting deeper than Python can
    follow) gets an ``error`` record instead of a verdict, and the run goes on:
    one hostile line in a million must not cost the other 999,999. Blank lines
    are skipped. A line may carry ``region`` (a region code of the rule file);
    else ``region`` (``--region``) applies. Returns the error count.

    A line may carry ``image`` (a picture's path, relative to ``images_from``)
    instead of, or besides, ``text`` (then its caption): the picture is read, its
    text added as ``image_text``, and both are judged together (see :func:`read_picture`).
    """
    errors = 0
    for number, line in enumerate(_progress_bar(lines, total) if progress else lines, 1):
        if not line.strip():
            continue
        try:
            result = _judge_line(detector, line, region, images_from)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            errors += 1
            result = _encode({"line": number, "error": str(exc)})
        out.write(result + "\n")
    out.flush()
    return errors


def read_picture(path: Path):
    """The text in the picture file at ``path``, read in this process (``callguard[ocr]``).

    Raises ValueError with a one-line reason (missing extra, unreadable file, a
    picture out of bounds or undecodable)."""
    from . import ocr

    if not ocr.available():
        raise ValueError(ocr.MISSING)
    from .ocr.image import MAX_BYTES, ImageRejected

    try:
        if path.stat().st_size > MAX_BYTES:
            raise ImageRejected("too_big", f"{path.stat().st_size} bytes, at most {MAX_BYTES}")
        data = path.read_bytes()
        from .ocr.engine import read_image

        return read_image(data)
    except OSError as exc:
        raise ValueError(f"cannot read the picture {path}: {exc.strerror or exc}") from None
    except ImageRejected as exc:
        raise ValueError(f"cannot read the picture {path}: {exc}") from None


def _judge_picture_line(record: dict, images_from: Path | None) -> str:
    """For a batch line with ``image``: read it, add ``image_text``; the text to judge."""
    from .ocr.text import combine

    image, caption = record["image"], record.get("text")
    if not isinstance(image, str) or not image:
        raise ValueError("'image' must be a picture's path (a string)")
    if caption is not None and not isinstance(caption, str):
        raise ValueError("'text' must be a string (the picture's caption) when there is an 'image'")
    picture = read_picture((images_from or Path.cwd()) / image)
    record["image_text"] = picture.text
    return combine(caption, picture.lines).text


def _check_picture(detector: Detector, args: argparse.Namespace, region: str | None) -> int:
    """``callguard check --image FILE [CAPTION]``: the reply a chat user sending that picture would get."""
    from .ocr import replies as picture_texts
    from .ocr.text import combine

    caption = " ".join(args.text)
    try:
        picture = read_picture(Path(args.image))
    except ValueError as exc:
        raise SystemExit(f"callguard check: {exc}") from None
    judged = combine(caption, picture.lines)
    verdict = detector.check(judged.text)
    if args.json:
        record = {"image": args.image, **({"text": caption} if caption else {}), "image_text": picture.text,
                  "verdict": verdict_json(verdict, detector.ruleset, judged.text, region)}
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return 0
    lang = args.lang or detect_language(judged.text)
    if not judged.text.strip():
        print(picture_texts.text("picture.no_text", lang))
        return 0
    part = (picture_texts.picture_part(judged, verdict, lang, html=False) if picture.lines
            else picture_texts.text("picture.caption_only", lang))
    print(describe(detector, judged.text, lang, region, picture=part, command_line=True))
    return 0


def _progress_bar(lines: Iterable[str], total: int | None) -> Iterable[str]:
    """``lines`` with a progress bar on stderr; tqdm is the optional extra ``cli``,
    and without it the batch runs the same, without a bar."""
    try:
        from tqdm import tqdm
    except ImportError:
        print("callguard check: no progress bar without tqdm (pip install 'callguard[cli]')", file=sys.stderr)
        return lines
    return tqdm(lines, total=total, unit=" msg", file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    detector = _detector(args.rules, args.model)
    try:
        region = _known_region(detector.ruleset, args.region)
    except ValueError as exc:
        raise SystemExit(f"callguard check: {exc}") from None
    if args.image:
        if args.jsonl:
            raise SystemExit("callguard check: give --image FILE or --jsonl FILE, not both")
        return _check_picture(detector, args, region)
    if args.jsonl:
        if args.jsonl == "-":
            stream = sys.stdin
            if hasattr(stream, "reconfigure"):  # bytes that are not UTF-8 become U+FFFD, as in a file
                stream.reconfigure(errors="replace")
            batch(detector, stream, sys.stdout, progress=sys.stderr.isatty(), region=region, images_from=Path.cwd())
        else:
            try:
                with open(args.jsonl, encoding="utf-8", errors="replace") as fh:
                    lines = fh.readlines()
            except OSError as exc:
                raise SystemExit(f"callguard: cannot read {args.jsonl}: {exc.strerror}") from None
            batch(detector, lines, sys.stdout, progress=sys.stderr.isatty(), total=len(lines), region=region,
                  images_from=Path(args.jsonl).parent)
        return 0
    if not args.text:
        raise SystemExit('callguard check: give a TEXT to check, --image FILE, or --jsonl FILE (use - for stdin)')
    text = " ".join(args.text)
    verdict = detector.check(text)
    if args.json:
        print(json.dumps(verdict_json(verdict, detector.ruleset, text, region), ensure_ascii=False, indent=2))
    else:
        print(describe(detector, text, args.lang or detect_language(text), region, command_line=True))
    return 0


def describe(detector: Detector, text: str, lang: str, chosen_region: str | None = None, *,
             picture: str | None = None, command_line: bool = False) -> str:
    """What the bot would send for ``text``: the emergency steps first when the
    text says money was already sent, then the verdict (plain text); ``picture``
    quotes what was read from a screenshot. ``command_line``: for ``callguard check``,
    whose region is changed with ``--region CODE``, not ``/region``."""
    ruleset = detector.ruleset
    verdict = detector.check(text)
    region = _region_of(ruleset, text, lang, chosen_region)
    from .numbers import display_number, extract_numbers

    numbers = extract_numbers(text, number_regions(ruleset.regions, chosen=chosen_region, lang=lang,
                                                   default=_settings().default_region))
    reply = replies.verdict_reply(verdict, ruleset, lang, html=False, text=text, region=region,
                                  numbers=[display_number(n) for n in numbers], picture=picture)
    if already_paid(text) and (verdict.scam or verdict.category is None or verdict.risk == "low"):
        return replies.emergency_reply(ruleset, lang, html=False, region=region,
                                       command_line=command_line) + "\n\n" + reply
    return reply


# --------------------------------------------------------------------------- chat


def chat(detector: Detector, read: Callable[[str], str], write: Callable[[str], None], lang: str | None = None,
         region: str | None = None) -> None:
    """The bot's conversation on a console: same texts, same verdicts, same rules
    for the language (``/lang`` wins; until then, each description's own) and
    the region (``/region`` wins; until then, as the bot picks it)."""
    ruleset = detector.ruleset
    chosen_lang = lang  # set by --lang or /lang: applies to every reply
    current = lang or "zh-Hans"  # the language of the conversation so far
    last_category: str | None = None
    last_region: Region | None = None
    codes = " | ".join(ruleset.regions)

    def where() -> Region | None:
        return ruleset.regions.get(region) if region else (last_region or _region_of(ruleset, "", current, None))

    write(replies.ui("welcome", current) + "\n" + replies.ui("example", current) + "\n\n"
          + i18n.text("chat.help", current, codes=codes))
    while True:
        try:
            line = read("> ").strip()
        except (EOFError, KeyboardInterrupt):
            write("")
            return
        if not line:
            continue
        command, _, rest = line.partition(" ")
        rest = rest.strip()
        if command in ("/quit", "/exit"):
            return
        if command in ("/help", "/start"):
            write(i18n.text("chat.help", current, codes=codes))
        elif command == "/privacy":  # the console stores nothing (the bot's /privacy would speak of /forget)
            write(i18n.text("chat.privacy", current))
        elif command == "/lang":
            if rest in replies.LANGUAGES:
                chosen_lang = current = rest
                write(replies.ui("lang.set", current))
            else:
                write(replies.ui("lang.pick", current) + " zh-Hans | zh-Hant | en")
        elif command == "/region":
            if rest.upper() in ruleset.regions:
                region = rest.upper()
                chosen = ruleset.regions[region]
                write(replies.ui("region.set", current, region=chosen, name=chosen.name[current]))
            else:
                write(replies.ui("region.pick", current) + "\n" + "\n".join(
                    f"  {code}  {r.name[current]}" for code, r in ruleset.regions.items()))
        elif command == "/money":
            write(replies.emergency_reply(ruleset, current, html=False, region=where()))
        elif command == "/family":
            write(replies.family_warning(ruleset, last_category, current, html=False, region=where()))
        elif command.startswith("/"):
            write(replies.ui("unknown_command", current))
        else:
            current = chosen_lang or detect_language(line, default=current)
            last_category = detector.check(line).category
            last_region = _region_of(ruleset, line, current, region)
            write(describe(detector, line, current, last_region.code if last_region else None))


def cmd_chat(args: argparse.Namespace) -> int:
    detector = _detector(args.rules, args.model)
    try:
        region = _known_region(detector.ruleset, args.region)
    except ValueError as exc:
        raise SystemExit(f"callguard chat: {exc}") from None
    chat(detector, input, print, lang=args.lang, region=region)
    return 0


# --------------------------------------------------------------------------- rules


def cmd_rules_lint(args: argparse.Namespace) -> int:
    path = _rules_path(args.file)
    ruleset, problems = load_and_lint(path)
    if ruleset is None and (reason := unreadable(path, from_command_line=args.file is not None)):
        print(f"callguard rules lint: {reason}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    print(f"{path}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def cmd_rules_test(args: argparse.Namespace) -> int:
    path = _rules_path(args.file)
    try:
        ruleset = load_rules(path)
    except RuleFileError as exc:
        if reason := unreadable(path, from_command_line=args.file is not None):
            print(f"callguard rules test: {reason}", file=sys.stderr)
        else:
            print(exc)
        return 1
    detector = Detector(ruleset)
    failures = run_examples(detector)
    for failure in failures:
        print(f"{path}:{failure.line}: {failure}")
    total = sum(len(r.examples_match) + len(r.examples_no_match) for r in ruleset.rules)
    print(f"{total - len(failures)} passed, {len(failures)} failed", file=sys.stderr)
    return 1 if failures else 0


def _checked_update(args: argparse.Namespace, command: str) -> tuple[bytes, Path, bool] | int:
    """FILE checked against the live rule file, its report printed: (its
    content, the live path, whether a reload would ask for a confirmation),
    or the exit status when it cannot be used."""
    from .admin_texts import changes_lines
    from .rulebuild import check_update

    path, live_path = Path(args.file), _rules_path(args.live)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"callguard rules {command}: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    checked, note = check_update(data, str(path), live_path)
    if checked.problems:
        for problem in checked.problems:
            print(problem)
        print(f"{path}: {len(checked.problems)} problem(s); a reload would refuse it", file=sys.stderr)
        return 1
    if note:
        print(note)
    comparison = checked.comparison
    if comparison is not None:
        names = checked.detector.ruleset  # names the categories of both verdicts (an unknown one by its id)
        print("\n".join(changes_lines(comparison, names, names, args.lang, html=False)))
    return data, live_path, comparison is not None and comparison.needs_confirmation


def cmd_rules_check(args: argparse.Namespace) -> int:
    checked = _checked_update(args, "check")
    if isinstance(checked, int):
        return checked
    if checked[2]:
        print(f"{args.file}: passes every check, but a reload would ask for a confirmation "
              "(Telegram: Apply anyway; here: callguard rules apply --force)", file=sys.stderr)
        return 3
    print(f"{args.file}: passes every check; a reload would apply it", file=sys.stderr)
    return 0


def cmd_rules_apply(args: argparse.Namespace) -> int:
    from .rulebook import approve, save_with_backup

    checked = _checked_update(args, "apply")
    if isinstance(checked, int):
        return checked
    data, live_path, ask = checked
    if ask:
        if not args.force:
            print("callguard rules apply: not applied: it changes too many verdicts. Add --force to apply it "
                  "anyway.", file=sys.stderr)
            return 3
        approve(live_path, data)  # so that the running bot's SIGHUP or file watch takes exactly this content
    try:
        backup = save_with_backup(live_path, data)
    except OSError as exc:
        print(f"callguard rules apply: cannot write {live_path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    kept = f" (the old file is kept as {backup.name})" if backup else ""
    print(f"{args.file} installed as {live_path}{kept}. A running bot takes it with /reload, kill -HUP <pid>, "
          "or by itself within 2 s with CALLGUARD_WATCH_RULES=1.", file=sys.stderr)
    return 0


def cmd_rules_migrate(args: argparse.Namespace) -> int:
    from .detect.migrate import migrate

    path = Path(args.file)
    try:
        text = migrate(path.read_bytes(), str(path))
    except OSError as exc:
        print(f"{path}: cannot read the rule file: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except RuleFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{path}: written as schema 2 to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# --------------------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace) -> int:
    try:
        from .train import TrainError, read_examples, train
    except ImportError as exc:  # numpy or scipy missing
        raise SystemExit(f"callguard train: needs numpy and scipy: pip install 'callguard[train]' ({exc})") from None
    try:
        examples = read_examples(args.corpus)
        model = train(examples, log=lambda line: print(f"callguard train: {line}", file=sys.stderr))
    except TrainError as exc:
        raise SystemExit(f"callguard train: {exc}") from None
    try:
        model.save(args.out)
    except OSError as exc:
        raise SystemExit(f"callguard train: cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"callguard train: {len(model.weights)} weights from {len(examples)} texts written to {args.out} "
          f"(medium from p >= {model.medium:.4f}, low from p >= {model.low:.4f})", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    from .main import run  # imports the Telegram stack only when needed

    return run(_settings(), webhook=args.webhook)


# --------------------------------------------------------------------------- admin reports


def _positive_days(raw: str) -> int:
    try:
        days = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of days, got {raw!r}") from None
    if not 1 <= days <= 36_500:
        raise argparse.ArgumentTypeError(f"must be between 1 and 36500, got {days}")
    return days


def _utc_date(raw: str) -> float:
    from datetime import datetime, timezone

    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date as YYYY-MM-DD, got {raw!r}") from None


def _with_store(command: str, work: Callable) -> object:
    """Run ``await work(store)`` on the bot's database (CALLGUARD_DB), opened
    read-only: a report never changes the database. A missing or unreadable
    database is one line on stderr and exit status 1, not a traceback."""
    import asyncio

    from .storage import SQLiteStore, StorageError

    path = _settings().db_path
    if not path.is_file():
        raise SystemExit(f"callguard {command}: no database at {path} (set CALLGUARD_DB to the bot's database file)")

    async def run() -> object:
        try:
            store = await SQLiteStore.open_readonly(path)
        except (StorageError, RuntimeError) as exc:
            raise SystemExit(f"callguard {command}: cannot read the database {path}: {exc}") from None
        try:
            return await work(store)
        except StorageError as exc:
            raise SystemExit(f"callguard {command}: cannot read the database {path}: {exc}") from None
        finally:
            await store.close()

    return asyncio.run(run())


def _ruleset_or_none(command: str):
    """The rule set for category names; None (ids are shown) when the rule file cannot be used."""
    path = _settings().rules_path
    try:
        return load_rules(path)
    except RuleFileError as exc:
        reason = unreadable(path) or f"the rule file has errors ({len(exc.problems)})"
        print(f"callguard {command}: {reason}\ncallguard {command}: showing category ids", file=sys.stderr)
        return None


def _require_extra(module: str, extra: str, command: str) -> None:
    """Stop with the pip command to run when an optional extra is not installed."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise SystemExit(f"{command} needs {module}: pip install 'callguard[{extra}]'") from None


def cmd_stats(args: argparse.Namespace) -> int:
    from .admin_texts import stats_text, t

    if args.chart:  # before any work, so nothing is half done
        _require_extra("matplotlib", "chart", "callguard stats --chart")

    async def work(store):
        return await store.stats(args.days), (await store.daily_counts(args.days) if args.chart else None)

    stats, daily = _with_store("stats", work)
    ruleset = _ruleset_or_none("stats")
    print(stats_text(stats, ruleset, args.lang, days=args.days, html=False))
    if args.chart:
        from .admin_texts import category_name
        from .chart import cjk_font, draw_daily

        font = cjk_font()
        lang = args.lang if font else "en"
        if lang != args.lang:
            print("callguard stats: no font with Chinese glyphs is installed; the chart uses English labels",
                  file=sys.stderr)
        labels = {cat: category_name(ruleset, cat, lang) for _, cat, _ in daily}
        try:
            path = draw_daily(daily, args.chart, days=args.days, labels=labels, font=font,
                              title=t("chart.title", lang, days=args.days), xlabel=t("chart.day", lang),
                              ylabel=t("chart.reports", lang))
        except OSError as exc:
            raise SystemExit(f"callguard stats: cannot write {args.chart}: {exc.strerror or exc}") from None
        print(f"callguard stats: chart written to {path}", file=sys.stderr)
    return 0


def cmd_bulletin(args: argparse.Namespace) -> int:
    from .bulletin import bulletin

    async def work(store):
        return await store.stats(args.days)

    stats = _with_store("bulletin", work)
    path = _settings().rules_path
    try:
        ruleset = load_rules(path)
    except RuleFileError as exc:
        raise SystemExit(f"callguard bulletin: {_rules_problem(path, exc)}") from None
    print(bulletin(stats, ruleset, args.lang))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import contextlib

    from .storage import mask_row, write_csv

    region = _settings().default_region

    async def work(store, out):
        rows = await store.export_rows(args.since)
        return write_csv(rows if args.full_numbers else (mask_row(row, region) for row in rows), out)

    @contextlib.contextmanager
    def output():
        if args.out == "-":
            yield sys.stdout
            return
        try:
            fh = open(args.out, "w", encoding="utf-8-sig", newline="")  # the BOM: Excel reads Chinese right
        except OSError as exc:
            raise SystemExit(f"callguard export: cannot write {args.out}: {exc.strerror or exc}") from None
        with fh:
            yield fh

    with output() as out:
        count = _with_store("export", lambda store: work(store, out))
    if args.full_numbers:  # the shell's history and the log say who; this says it happened
        print(f"callguard export: {count} reports with FULL phone numbers (--full-numbers); "
              "keep the file as safe as the database", file=sys.stderr)
    if args.out != "-":
        print(f"callguard export: {count} reports written to {args.out}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callguard", description="CallGuard: is this call a scam, and what to do now.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="judge a text (or a JSONL batch)")
    p.add_argument("text", nargs="*", help="what the caller said, or the SMS")
    p.add_argument("--jsonl", metavar="FILE",
                   help="batch mode: JSON object per line with a 'text' field (or 'image', a picture's path "
                        "relative to FILE's folder); - for stdin")
    p.add_argument("--image", metavar="FILE", help="read a screenshot and judge its text; TEXT, if given, is "
                                                   "its caption (needs the ocr extra)")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON instead of the reply")
    p.add_argument("--lang", choices=replies.LANGUAGES, help="reply language (default: the text's)")
    p.add_argument("--region", metavar="CODE", help="the user's region, e.g. TW (default: a number's country, "
                                                    "the language, then CALLGUARD_REGION)")
    p.add_argument("--rules", metavar="FILE", help="rule file (default: CALLGUARD_RULES or the shipped rules)")
    p.add_argument("--model", metavar="FILE", help="also ask a model from `callguard train` (it can only raise a verdict)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("chat", help="talk to CallGuard on the console, no Telegram token needed")
    p.add_argument("--lang", choices=replies.LANGUAGES)
    p.add_argument("--region", metavar="CODE", help="the user's region, e.g. GB (its emergency numbers)")
    p.add_argument("--rules", metavar="FILE")
    p.add_argument("--model", metavar="FILE", help="also ask a model from `callguard train`")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("train", help="train the optional learned second opinion (needs callguard[train])")
    p.add_argument("corpus", nargs="+", metavar="CORPUS.jsonl", help="JSON lines with text, label (scam|benign), source")
    p.add_argument("--out", required=True, metavar="FILE", help="model file to write")
    p.set_defaults(func=cmd_train)

    rules = sub.add_parser("rules", help="check the rule file").add_subparsers(dest="rules_command", required=True)
    p = rules.add_parser("lint", help="validate the schema; errors as file:line: message")
    p.add_argument("file", nargs="?")
    p.set_defaults(func=cmd_rules_lint)
    p = rules.add_parser("test", help="run every rule's embedded examples")
    p.add_argument("file", nargs="?")
    p.set_defaults(func=cmd_rules_test)
    p = rules.add_parser("migrate", help="rewrite a schema-1 rule file as schema 2 (to stdout or --out)")
    p.add_argument("file")
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(func=cmd_rules_migrate)
    for name, func, text in (("check", cmd_rules_check, "what a reload of FILE would do: its problems, or the "
                              "verdicts it changes against the live rule file"),
                             ("apply", cmd_rules_apply, "check FILE like a reload, then install it as the live rule "
                              "file (backup kept)")):
        p = rules.add_parser(name, help=text)
        p.add_argument("file")
        p.add_argument("--live", metavar="FILE", help="the live rule file (default: CALLGUARD_RULES or the shipped "
                                                      "rules)")
        p.add_argument("--lang", choices=replies.LANGUAGES, default="en")
        if name == "apply":
            p.add_argument("--force", action="store_true", help="apply even when many verdicts change (approves "
                                                                "exactly this content for the bot's SIGHUP/watch)")
        p.set_defaults(func=func)

    p = sub.add_parser("stats", help="report statistics from the bot's database (CALLGUARD_DB)")
    p.add_argument("--days", type=_positive_days, default=30, help="the last N days (default 30)")
    p.add_argument("--chart", metavar="FILE.png", help="also draw reports per day by category as a PNG")
    p.add_argument("--lang", choices=replies.LANGUAGES, default="zh-Hans")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("bulletin", help="the public bulletin for the last N days")
    p.add_argument("--days", type=_positive_days, default=30, help="the last N days (default 30)")
    p.add_argument("--lang", choices=replies.LANGUAGES, default="zh-Hans")
    p.set_defaults(func=cmd_bulletin)

    p = sub.add_parser("export", help="reports as CSV (no reporter identities)")
    p.add_argument("--since", type=_utc_date, required=True, metavar="YYYY-MM-DD", help="from this UTC day on")
    p.add_argument("--out", required=True, metavar="FILE", help="CSV file to write (- for stdout)")
    p.add_argument("--full-numbers", action="store_true",
                   help="phone numbers in full (default: masked as in stats, e.g. +86 138******00)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("run", help="start the Telegram bot (long polling, or --webhook)")
    p.add_argument("--webhook", action="store_true", help="serve a webhook instead (CALLGUARD_WEBHOOK_* settings)")
    p.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if os.path.exists(".env"):  # settings in ./.env; the real environment wins
        from dotenv import load_dotenv  # only then: importing it costs ~20 ms of every start

        load_dotenv(".env", override=False)
    try:
        return args.func(args)
    except BrokenPipeError:  # `callguard check --jsonl x | head`
        return 0
