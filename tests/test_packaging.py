"""What a release ships: the sdist and the wheel carry the rule files and every
other data file, and the installed wheel runs from an empty folder.

The build runs on a temporary copy of the repository, with placeholder data
files added there (a regression set in rules/, YAML and binary files in bot/),
so the test proves that files added later ship without a packaging change.
.ci/run also installs the wheel with its dependencies into a fresh venv.
"""

from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCAM = "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户"
# Not copied into the build: local environments, caches and build output.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", "*.so",
                                    ".pytest_cache", ".hypothesis", "results", "*.db", "*.db-*")


def setuptools_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_folder_of_bot_and_rules_is_a_listed_package():
    """A data folder missing from ``packages`` still ships today, but setuptools
    warns that it will not: list it (e.g. callguard.locales for bot/locales/)."""
    config = setuptools_config()
    packages = set(config["packages"])
    for package, folder in config["package-dir"].items():
        for path in [ROOT / folder, *(ROOT / folder).rglob("*")]:
            if not path.is_dir() or path.name == "__pycache__" or "__pycache__" in path.parts:
                continue
            if not any(f.is_file() for f in path.iterdir()):
                continue
            relative = path.relative_to(ROOT / folder).parts
            name = ".".join((package, *relative))
            assert name in packages, f"{path.relative_to(ROOT)} holds files but {name} is not in packages"


def built_copy(tmp_path: Path) -> tuple[Path, Path, set[str]]:
    """Build sdist and wheel (the wheel from the sdist, as pip does from PyPI) of a
    copy of the repository with placeholder data files; returns both and the placeholders."""
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    placeholders = {"callguard/placeholder-data.yaml": source / "bot" / "placeholder-data.yaml",
                    "callguard/detect/placeholder-weights.bin": source / "bot" / "detect" / "placeholder-weights.bin"}
    if not (source / "rules" / "regression.jsonl").exists():  # until the real regression set lands
        placeholders["callguard/rules/regression.jsonl"] = source / "rules" / "regression.jsonl"
    for path in placeholders.values():
        path.write_bytes(b'{"text": "placeholder"}\n')
    (source / "rules" / "scam_patterns.yaml.20260101T000000Z.bak").write_text("an admin's backup\n")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(tmp_path / "dist"), str(source)],
                   check=True, capture_output=True, timeout=600)
    (sdist,) = (tmp_path / "dist").glob("callguard-*.tar.gz")
    (wheel,) = (tmp_path / "dist").glob("callguard-*.whl")
    return sdist, wheel, set(placeholders)


@pytest.mark.slow
def test_sdist_and_wheel_ship_the_data_files_and_the_wheel_runs_from_an_empty_folder(tmp_path):
    sdist, wheel, placeholders = built_copy(tmp_path)

    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    assert {"callguard/rules/scam_patterns.yaml", "callguard/rules/regression.jsonl",
            "callguard/detect/second_opinion.cgm"} <= in_wheel
    assert placeholders <= in_wheel
    assert not [n for n in in_wheel if n.endswith((".bak", ".pyc", ".c"))], "build leftovers in the wheel"
    assert not [n for n in in_wheel if n.startswith(("bot/", "rules/"))], "the import name is callguard only"

    with tarfile.open(sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {"rules/scam_patterns.yaml", "rules/regression.jsonl", "bot/detect/matcher.py"} <= in_sdist
    assert {"bot/placeholder-data.yaml", "bot/detect/placeholder-weights.bin"} <= in_sdist

    # Installed (unpacked, as pip does) away from any source tree, run from an empty folder.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALLGUARD_", "TELEGRAM_"))}
    env["PYTHONPATH"] = str(site)  # found before the editable install of this checkout

    def callguard(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *argv], cwd=empty, env=env, capture_output=True, text=True,
                              timeout=300)

    where = callguard("-c", "import callguard.config as c; print(c.__file__); print(c.DEFAULT_RULES)")
    module, rules = where.stdout.split()
    assert Path(module).is_relative_to(site) and Path(rules) == site / "callguard" / "rules" / "scam_patterns.yaml"
    check = callguard("-m", "callguard", "check", "--json", SCAM)
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["category"] == "impersonate_authority"
    shipped_model = callguard("-m", "callguard", "check", "--json", "--model", "shipped", SCAM)
    assert shipped_model.returncode == 0 and json.loads(shipped_model.stdout)["scam"], shipped_model.stderr
    rule_test = callguard("-m", "callguard", "rules", "test")
    assert rule_test.returncode == 0 and " 0 failed" in rule_test.stderr, rule_test.stdout + rule_test.stderr


def _requirement_name(requirement: str) -> str:
    """``"rapidocr>=3.10,<3.11"`` -> ``"rapidocr"`` (normalised as pip compares names)."""
    name = re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_ocr_extra_installs_everything_reading_a_picture_imports():
    """``pip install 'callguard[ocr]'`` must give a server that reads pictures: every module
    ``callguard.ocr.available()`` looks for comes from the extra or what it depends on.
    (rapidocr 3 does not depend on an inference engine: without onnxruntime listed, the
    Docker image and CI installed the extra and still could not read a single picture.)"""
    from importlib import metadata

    from callguard.ocr import ENGINE_MODULES

    pytest.importorskip("rapidocr", reason="the ocr extra is not installed here")
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]["ocr"]
    reachable: set[str] = set()
    todo = [_requirement_name(r) for r in extra]
    while todo:  # the extra's requirements and, as installed here, theirs
        name = todo.pop()
        if name in reachable:
            continue
        reachable.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_requirement_name(r) for r in requires if "extra ==" not in r]
    providers = metadata.packages_distributions()
    missing = [module for module in ENGINE_MODULES
               if not {_requirement_name(d) for d in providers.get(module, [])} & reachable]
    assert missing == [], f"the ocr extra does not install {missing}"
