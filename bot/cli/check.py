"""``callguard check``: the reply (or JSON verdict) for one text, one screenshot, or a JSONL batch.

The batch reader is the part that meets hostile input (a million lines from
anywhere): it is strict JSON both ways and turns every line it cannot judge
into an ``error`` record, so one bad line never stops the run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Iterable, TextIO

from ..detect import Detector, detect_language
from .loading import detector_and_region, known_region, settings
from .verdicts import describe, verdict_json
from .workers import default_jobs, judged_in_order


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


def _judge_line(detector: Detector, line: str, region: str | None, images_from: Path | None,
                default_region: str | None = None) -> str:
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
        chosen = known_region(detector.ruleset, record["region"]) if "region" in record else region
        record["verdict"] = verdict_json(detector.check(text), detector.ruleset, text, chosen, default_region)
        out = _encode(record)
        out.encode("utf-8")  # a lone surrogate (\ud800) decodes fine but is no Unicode text
    except UnicodeEncodeError as exc:
        raise ValueError(f"the line holds a lone surrogate (\\u{ord(exc.object[exc.start]):04x}), "
                         "which is not valid Unicode text") from None
    except RecursionError:
        raise ValueError("the line is nested too deeply") from None
    return out


def batch(detector: Detector, lines: Iterable[str], out: TextIO, *, progress: bool = False, total: int | None = None,
          region: str | None = None, images_from: Path | None = None, jobs: int = 1) -> int:
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

    ``jobs``: processes that judge lines side by side (see ``workers``); the
    output is the same, in the same order, whatever their number.
    """
    default_region = settings().default_region  # read once, not from the environment per line

    def judge(number: int, line: str) -> tuple[str, bool] | None:
        if not line.strip():
            return None
        try:
            return _judge_line(detector, line, region, images_from, default_region), False
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            return _encode({"line": number, "error": str(exc)}), True

    errors = 0
    for result, failed in judged_in_order(judge, _progress_bar(lines, total) if progress else lines, jobs):
        errors += failed
        out.write(result + "\n")
    out.flush()
    return errors


def read_picture(path: Path):
    """The text in the picture file at ``path``, read in this process (``callguard[ocr]``).

    Raises ValueError with a one-line reason (missing extra, unreadable file, a
    picture out of bounds or undecodable)."""
    from .. import ocr

    if not ocr.available():
        raise ValueError(ocr.MISSING)
    from ..ocr.image import MAX_BYTES, ImageRejected

    try:
        if path.stat().st_size > MAX_BYTES:
            raise ImageRejected("too_big", f"{path.stat().st_size} bytes, at most {MAX_BYTES}")
        data = path.read_bytes()
        from ..ocr.engine import read_image

        return read_image(data)
    except OSError as exc:
        raise ValueError(f"cannot read the picture {path}: {exc.strerror or exc}") from None
    except ImageRejected as exc:
        raise ValueError(f"cannot read the picture {path}: {exc}") from None


def _judge_picture_line(record: dict, images_from: Path | None) -> str:
    """For a batch line with ``image``: read it, add ``image_text``; the text to judge."""
    from ..ocr.text import combine

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
    from ..ocr import replies as picture_texts
    from ..ocr.text import combine

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
    tqdm.monitor_interval = 0  # no monitor thread: batch workers are forked (cli/workers.py)
    return tqdm(lines, total=total, unit=" msg", file=sys.stderr)


def _stdin():
    """Standard input, where bytes that are not UTF-8 become U+FFFD, as in a file."""
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    return sys.stdin


def cmd_check(args: argparse.Namespace) -> int:
    detector, region = detector_and_region(args, "check")
    if args.image:
        if args.jsonl:
            raise SystemExit("callguard check: give --image FILE or --jsonl FILE, not both")
        return _check_picture(detector, args, region)
    if args.jsonl:
        jobs = default_jobs() if args.jobs is None else args.jobs
        if args.jsonl == "-":
            batch(detector, _stdin(), sys.stdout, progress=sys.stderr.isatty(), region=region, images_from=Path.cwd(),
                  jobs=jobs)
        else:
            try:
                with open(args.jsonl, encoding="utf-8", errors="replace") as fh:
                    lines = fh.readlines()
            except OSError as exc:
                raise SystemExit(f"callguard: cannot read {args.jsonl}: {exc.strerror}") from None
            batch(detector, lines, sys.stdout, progress=sys.stderr.isatty(), total=len(lines), region=region,
                  images_from=Path(args.jsonl).parent, jobs=jobs)
        return 0
    if not args.text:
        raise SystemExit('callguard check: give a TEXT to check, --image FILE, or --jsonl FILE (use - for stdin)')
    if args.text == ["-"]:  # a pasted SMS or e-mail keeps its lines
        text = _stdin().read().strip()
        if not text:
            raise SystemExit("callguard check: nothing to check on stdin")
    else:
        text = " ".join(args.text)
    verdict = detector.check(text)
    if args.json:
        print(json.dumps(verdict_json(verdict, detector.ruleset, text, region), ensure_ascii=False, indent=2))
    else:
        print(describe(detector, text, args.lang or detect_language(text), region, command_line=True))
    return 0
