"""Users keep their reply times while a big rule file is reloaded (issue 12, item 2).

A smaller run of bench/bench_reload.py's second part (same code): the bot as
its own process, the fake Bot API in the test's process, users writing at a
steady rate while an admin reloads a synthetic file that passes every check
(a new file: everything is compiled and handed over). The file is checked in the
worker process and handed over in small steps, so other users' p99 must
stay under 100 ms during each reload.
"""

from __future__ import annotations

import pytest

from bench.bench_reload import TARGET_P99_MS, online, rule_file

# ~5,000 patterns, everything compiled and handed over: about ten seconds of checking
# (most of it judging the live rules' examples with both rule sets), ~300 replies
# during it; bench/bench_reload.py times larger files. The test runs alone (the
# other test process waits), so its size is kept to what shows the handover.
RULES = 120
RATE = 30.0  # user messages per second
# Users alone before the reload, for about as long as it takes: a shared machine
# has hiccups every few seconds, so only windows of similar length compare.
QUIET_SECONDS = 6.0


@pytest.mark.alone  # beside another test it measures that test's load (tests/conftest.py)
async def test_users_stay_fast_while_a_big_rule_file_is_reloaded(tmp_path, record_property):
    path = rule_file(RULES)

    async def measure(name: str) -> dict:
        workdir = tmp_path / name
        workdir.mkdir()
        result = await online(path, runs=1, rate=RATE, kinds=("new",), workdir=workdir, before=QUIET_SECONDS)
        for kind, r in result.items():
            print(f"\n{name}: {kind}: reload {r['reload_wall_s']:.1f} s, p99 before {r['before']['p99_ms']:.0f} ms, "
                  f"during {r['during']['p99_ms']:.0f} ms ({r['during']['count']} replies; slowest (ms, s before "
                  f"the answer) {r['slowest'][:4]})")
        return result

    def verdict(r: dict) -> str | None:
        """None when the run meets the target; else why not ("busy": the machine
        could not meet it even without a reload)."""
        quiet = r["before"]["p99_ms"]  # the same traffic just before the reload: what the machine gives now
        if quiet >= 2 * TARGET_P99_MS:
            return "busy"
        # On a quiet machine the target itself; on a busy one (a shared CI box) the
        # reload may add less than the target on top of what the machine gives.
        bound = TARGET_P99_MS if quiet < TARGET_P99_MS / 2 else quiet + TARGET_P99_MS
        return None if r["during"]["p99_ms"] < bound else f"p99 {r['during']['p99_ms']:.0f} ms >= {bound:.0f} ms"

    runs = []
    for name in ("first", "again"):  # a shared machine has its moments: a second chance, never a third
        result = await measure(name)
        [r] = result.values()
        assert r["answer"].startswith("✅"), r["answer"]
        assert r["during"]["count"] >= 50, r  # the reload took long enough to mean something
        assert r["unanswered"] == 0, r
        runs.append((verdict(r), r))
        if runs[-1][0] is None:
            break
    record_property("reload_figures", [r for _, r in runs])
    if runs[-1][0] is None:
        return
    if all(why == "busy" for why, _ in runs):
        pytest.skip("machine too busy to judge: " + ", ".join(f"p99 {r['before']['p99_ms']:.0f} ms with no reload"
                                                             for _, r in runs))
    pytest.fail("users waited during the reload: " + "; ".join(f"{why} (before the reload: "
                                                               f"{r['before']['p99_ms']:.0f} ms)" for why, r in runs))
