"""The stats chart draws Chinese labels with the CJK font (.ci/run installs fonts-wqy-microhei;
the Docker image has fonts-noto-cjk): every glyph is there, none is an empty box."""

from __future__ import annotations

import warnings
from datetime import date

import pytest

pytest.importorskip("matplotlib", reason="the chart is the chart extra")

from callguard import chart  # noqa: E402

TODAY = date(2026, 11, 30)
ROWS = [("2026-11-29", "impersonate_authority", 4), ("2026-11-30", "fake_investment", 2)]
LABELS = {"impersonate_authority": "冒充公檢法或政府機關", "fake_investment": "虛假投資理財"}


def missing_glyphs(tmp_path, font: str | None) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chart.draw_daily(ROWS, tmp_path / "chart.png", days=7, labels=LABELS, font=font, until=TODAY,
                         title="最近 7 天每天的舉報（按類型）", xlabel="日期（UTC）", ylabel="舉報數")
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def needs_cjk_font() -> str:
    font = chart.cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei or fonts-noto-cjk)")
    return font


def test_chinese_labels_have_every_glyph_with_the_cjk_font(tmp_path):
    font = needs_cjk_font()
    assert missing_glyphs(tmp_path, font) == []
    assert missing_glyphs(tmp_path, None)  # the control: matplotlib's default font has no Chinese


def test_a_font_installed_after_matplotlib_listed_the_fonts_is_found(monkeypatch):
    """matplotlib caches its font list; a CJK font installed later is still used."""
    font = needs_cjk_font()
    from matplotlib import font_manager

    without_cjk = [f for f in font_manager.fontManager.ttflist if f.name != font and "CJK" not in f.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", without_cjk)
    assert chart.cjk_font() is not None
