"""The Dockerfile and compose.yaml hold what a deployment needs.

No Docker engine runs where the tests run, so the image is not built here:
these tests read both files for the essentials (a non-root user, the database
on a volume that user owns, `callguard run` as the command, the CJK font for
charts, the compose service wiring the same volume and settings).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path, PurePosixPath

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; comments dropped, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in dockerfile.splitlines()
                                           if not line.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


@pytest.fixture(scope="module")
def final_stage() -> list[tuple[str, str]]:
    steps = instructions((ROOT / "Dockerfile").read_text(encoding="utf-8"))
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def env_of(stage) -> dict[str, str]:
    env = {}
    for word, args in stage:
        if word == "ENV":
            env.update(part.split("=", 1) for part in shlex.split(args))
    return env


def volumes_of(stage) -> list[str]:
    out = []
    for word, args in stage:
        if word == "VOLUME":
            out += json.loads(args) if args.startswith("[") else args.split()
    return out


def test_runs_callguard_run_as_a_non_root_user(final_stage):
    assert final_stage[0] == ("FROM", "python:3.11-slim")
    words = [word for word, _ in final_stage]
    assert words[-1] == "CMD" and json.loads(final_stage[-1][1]) == ["callguard", "run"]  # exec form: gets SIGTERM
    users = [args for word, args in final_stage if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN")  # nothing runs as root after


def test_the_database_is_on_a_volume_the_user_owns(final_stage):
    (volume,) = volumes_of(final_stage)
    db = PurePosixPath(env_of(final_stage)["CALLGUARD_DB"])
    assert db.is_relative_to(volume)
    user = [args for word, args in final_stage if word == "USER"][-1]
    words = [word for word, _ in final_stage]
    before_volume = " ".join(args for word, args in final_stage[:words.index("VOLUME")] if word == "RUN")
    # Made and chowned BEFORE the VOLUME line: later changes to a volume path are discarded.
    assert f"mkdir {volume}" in before_volume and re.search(rf"chown {user}(:\S+)? {volume}", before_volume)


def test_installs_the_package_with_the_chart_extra_and_a_cjk_font(final_stage):
    runs = " ".join(args for word, args in final_stage if word == "RUN")
    assert "fonts-noto-cjk" in runs
    assert re.search(r"pip install .*'callguard\[chart[,\]]", runs)
    assert re.search(r"pip install .*'callguard\[[a-z,]*\bocr\b[a-z,]*\]'", runs)  # the bot reads screenshots


def test_dockerignore_keeps_local_environments_out():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".env"} <= set(ignored) and any(p.startswith(".venv") for p in ignored)


def test_compose_service_uses_the_image_volume_and_settings(final_stage):
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["callguard"]
    assert service["build"] == "."
    (volume_dir,) = volumes_of(final_stage)
    mounts = [m.split(":") for m in service["volumes"]]
    named = [name for name, target, *_ in mounts if target == volume_dir]
    assert named and named[0] in compose["volumes"]  # a named volume, kept across `docker compose down`
    env = service["environment"]
    assert PurePosixPath(env["CALLGUARD_DB"]).is_relative_to(volume_dir)
    assert "TELEGRAM_BOT_TOKEN" in env and service["env_file"] == ".env"
    assert service.get("restart") == "unless-stopped"
