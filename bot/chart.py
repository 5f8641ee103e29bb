"""The per-day chart of ``callguard stats --chart``: reports per day by category.

Stacked bars, one colour per category, drawn with matplotlib's Agg backend
(no display needed). Category names are shown in Chinese only when a font
with Chinese glyphs is installed (Noto Sans CJK, Source Han, WenQuanYi...);
otherwise the English names are used, so the chart never shows empty boxes.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .storage import NO_CATEGORY, WARNINGS

__all__ = ["draw_daily", "cjk_font"]

# Families with CJK glyphs, most preferred first.
_CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans CJK TC",
    "Noto Sans CJK JP", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC",
    "SimHei", "Heiti SC", "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN",
)


# Where Debian's CJK font packages put their files (fonts-noto-cjk, fonts-wqy-microhei, fonts-wqy-zenhei).
_CJK_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


def cjk_font() -> str | None:
    """The name of an installed font family that has Chinese glyphs, or None.

    matplotlib lists the system's fonts once and caches the list; a font package
    installed after that (``apt-get install fonts-noto-cjk`` on a running server)
    is not in it, so Debian's CJK font files are added when the list has none."""
    from matplotlib import font_manager

    found = _cjk_family({f.name for f in font_manager.fontManager.ttflist})
    if found is None:
        for path in _CJK_FILES:
            if os.path.isfile(path):
                font_manager.fontManager.addfont(path)
        found = _cjk_family({f.name for f in font_manager.fontManager.ttflist})
    return found


def _cjk_family(names: set[str]) -> str | None:
    for family in _CJK_FAMILIES:
        if family in names:
            return family
    return next((name for name in sorted(names) if "CJK" in name), None)


def _days(until: date, days: int) -> list[str]:
    return [(until - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]


def draw_daily(
    rows: Iterable[tuple[str, str, int]],
    path: str | os.PathLike,
    *,
    days: int,
    labels: Mapping[str, str] | None = None,
    title: str = "Reports per day by category",
    xlabel: str = "Day (UTC)",
    ylabel: str = "Reports",
    until: date | None = None,
    font: str | None = None,
) -> Path:
    """Write a PNG of ``rows`` (``(YYYY-MM-DD, category, count)`` as from
    :meth:`callguard.storage.ReportStore.daily_counts`) to ``path``; returns the path.

    Every one of the ``days`` days up to ``until`` (default: today, UTC) gets
    a bar, empty days included. ``labels`` maps category ids to legend names;
    ``font`` is a font family to use for them (see :func:`cjk_font`).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    until = until or datetime.now(timezone.utc).date()
    day_list = _days(until, days)
    index = {d: i for i, d in enumerate(day_list)}
    counts: dict[str, list[int]] = {}
    for day, category, n in rows:
        if day in index:
            counts.setdefault(category, [0] * len(day_list))[index[day]] += n
    # Biggest categories at the bottom of each stack and first in the legend; then warnings
    # passed on, in pale blue; reports that matched no scam pattern on top, in grey.
    order: Sequence[str] = sorted(counts, key=lambda c: (c == NO_CATEGORY, c == WARNINGS, -sum(counts[c]), c))
    labels = labels or {}

    rc = {"font.family": [font, "DejaVu Sans"]} if font else {}
    with plt.rc_context(rc):
        width = min(max(8.0, 0.28 * len(day_list) + 4.0), 24.0)
        fig, ax = plt.subplots(figsize=(width, 5.5), dpi=120)
        try:
            cmap = plt.get_cmap("tab20")
            bottom = [0] * len(day_list)
            x = list(range(len(day_list)))
            for i, category in enumerate(order):
                values = counts[category]
                color = "#b0b0b0" if category == NO_CATEGORY else "#a6cee3" if category == WARNINGS else cmap(i % 20)
                ax.bar(x, values, bottom=bottom, width=0.8, color=color,
                       label=labels.get(category, category), edgecolor="white", linewidth=0.4)
                bottom = [b + v for b, v in zip(bottom, values)]
            step = max(1, len(day_list) // 15)  # at most ~15 date labels
            ax.set_xticks(x[::step])
            ax.set_xticklabels([d[5:] for d in day_list[::step]], rotation=45, ha="right")
            ax.set_xlim(-0.6, len(day_list) - 0.4)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylim(0, max(max(bottom, default=0), 1) * 1.1)
            ax.set_title(title)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(axis="y", alpha=0.3)
            ax.set_axisbelow(True)
            if order:
                ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
            else:
                ax.text(0.5, 0.5, "0", transform=ax.transAxes, ha="center", va="center", fontsize=14, alpha=0.5)
            fig.tight_layout()
            path = Path(path)
            fig.savefig(path, format="png")
        finally:
            plt.close(fig)
    return path
