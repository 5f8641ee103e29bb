"""Benchmark: how long `callguard check "..."` takes from the shell, and where the time goes.

    python bench/bench_startup.py               # 15 timed runs of each command after 2 warm-ups
    python bench/bench_startup.py --runs 5      # quicker
    python bench/bench_startup.py --no-phases   # only the command timings

1. **Commands** (as hyperfine would time them): the median, min and max wall
   time of whole processes, started from an empty temporary folder with
   ``CALLGUARD_RULES`` unset (the shipped rules, as a user runs it):
   ``callguard check TEXT`` and ``callguard check --json TEXT``, and bare
   ``python -c pass`` for the interpreter's own start; also the median CPU
   time (user + system) of the process, steadier on a shared machine. The
   ``callguard`` is the console script beside this Python (the one ``pip
   install`` made).
2. **Phases** (median over the runs, each in a fresh process): importing
   ``callguard.cli``, reading and validating the rule file (``load_rules``),
   compiling it (``Detector(ruleset)``), judging the text and writing the reply.
3. **Largest imports**: ``python -X importtime -c "import callguard.cli"``, the
   cumulative time of the heaviest libraries (top-level packages) and of
   CallGuard's own modules. Nested: a module's time includes what it imports
   first, so ``callguard.detect`` includes ``pypinyin``.

The machine is shared: compare runs made back to back, trust the median, and
look at the CPU time when the wall times jump. Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEXT = "有人自称通信管理局，说我的号码要被冻结，让我转到安全账户"

# One fresh process: times each phase of `callguard check` and prints them as JSON.
PHASES = r"""
import json, sys, time
t0 = time.perf_counter()
from callguard import cli, replies
from callguard.config import Settings
from callguard.detect import Detector, detect_language, load_rules
t1 = time.perf_counter()
ruleset = load_rules(Settings.from_env().rules_path)
t2 = time.perf_counter()
detector = Detector(ruleset)
t3 = time.perf_counter()
verdict = detector.check(sys.argv[1])
replies.verdict_reply(verdict, ruleset, detect_language(sys.argv[1]), html=False)
t4 = time.perf_counter()
print(json.dumps({"import callguard.cli": t1 - t0, "load_rules (read, parse, lint)": t2 - t1,
                  "Detector(ruleset) (compile)": t3 - t2, "check + reply": t4 - t3}))
"""


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    env["PYTHONDONTWRITEBYTECODE"] = "0"  # let .pyc files be cached: a user's second run has them
    return env


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_times(argv: list[str], runs: int, warmups: int, cwd: Path) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of each timed run. The CPU time is
    what the process itself used: on a busy machine it moves much less than the wall time."""
    wall, cpu = [], []
    for i in range(warmups + runs):
        cpu_before, started = children_cpu(), time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=clean_env(), check=True, stdout=subprocess.DEVNULL)
        if i >= warmups:
            wall.append(time.perf_counter() - started)
            cpu.append(children_cpu() - cpu_before)
    return wall, cpu


def phase_times(runs: int, cwd: Path) -> dict[str, float]:
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PHASES, TEXT], cwd=cwd, env=clean_env(), check=True,
                             capture_output=True, text=True).stdout
        for name, seconds in json.loads(out).items():
            samples.setdefault(name, []).append(seconds)
    return {name: statistics.median(values) for name, values in samples.items()}


def largest_imports(cwd: Path, top: int) -> list[tuple[str, float]]:
    """The modules with the largest cumulative import time (seconds), heaviest first."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import callguard.cli"], cwd=cwd,
                         env=clean_env(), check=True, capture_output=True, text=True).stderr
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        name = name.strip()
        if "." not in name or name.startswith("callguard."):  # whole libraries, and our own modules
            rows.append((name, int(cumulative) / 1e6))
    return sorted(rows, key=lambda row: -row[1])[:top]


def callguard_command() -> list[str]:
    script = Path(sys.executable).with_name("callguard")
    if script.exists():
        return [str(script)]
    found = shutil.which("callguard")
    return [found] if found else [sys.executable, "-m", "callguard"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command (default 15)")
    parser.add_argument("--warmups", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument("--no-phases", action="store_true", help="skip the phase and import breakdown")
    args = parser.parse_args()

    callguard = callguard_command()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "callguard check TEXT": [*callguard, "check", TEXT],
        "callguard check --json TEXT": [*callguard, "check", "--json", TEXT],
    }
    with tempfile.TemporaryDirectory(prefix="callguard-startup-") as folder:
        cwd = Path(folder)
        print(f"{' '.join(callguard)}, {args.runs} runs after {args.warmups} warm-ups, from an empty folder")
        for name, argv in commands.items():
            wall, cpu = process_times(argv, args.runs, args.warmups, cwd)
            print(f"  {name:<30} median {statistics.median(wall):6.3f} s   min {min(wall):6.3f}   "
                  f"max {max(wall):6.3f}   (CPU median {statistics.median(cpu):6.3f} s)")
        if args.no_phases:
            return
        print(f"\nphases of `callguard check` in one process (median of {args.runs}):")
        for name, seconds in phase_times(args.runs, cwd).items():
            print(f"  {name:<34} {seconds:6.3f} s")
        print("\nlargest imports of `import callguard.cli` (cumulative, nested; one run):")
        for name, seconds in largest_imports(cwd, 15):
            print(f"  {name:<40} {seconds:6.3f} s")


if __name__ == "__main__":
    main()
