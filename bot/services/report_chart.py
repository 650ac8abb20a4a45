"""The editorial report as one PNG, drawn headless with matplotlib (Agg).

The only module that imports matplotlib (about half a second), so every other command
starts as fast as before. Sized for Slack: 1200 x 675 pixels at 150 dpi, so the
type stays readable when Slack shows the preview at half that size. Colours are from
the Okabe-Ito palette, which readers with any common colour-vision deficiency tell
apart; the queue is also a dashed line with markers, and decided bars are hatched, so
nothing depends on colour alone.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402 (after choosing the backend)
from matplotlib.ticker import MaxNLocator  # noqa: E402
from newsbot.bot.newsroom.report import Report  # noqa: E402

WIDTH_PX, HEIGHT_PX, DPI = 1200, 675, 150  # large type for the preview
MAX_TOPICS = 8
TITLE, HEADING, LABEL, TICK = 12, 10.5, 9, 8  # points: at 150 dpi, 25 to 17 pixels
HEADROOM = 1.4  # the top of the plots is left free for the legend
# Okabe-Ito
GREEN, VERMILLION, BLUE, SKY, ORANGE, BLACK = (
    "#009E73", "#D55E00", "#0072B2", "#56B4E9", "#E69F00", "#000000")


def chart_png(report: Report) -> bytes:
    """The chart: decisions per day with the queue, and new against decided per topic."""
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    # fixed margins (a layout engine costs a quarter of a second per chart)
    figure.subplots_adjust(left=0.07, right=0.985, top=0.84, bottom=0.15, wspace=0.62)
    days_axes, topics_axes = figure.subplots(1, 2, width_ratios=(3, 2))
    _days(days_axes, report)
    _topics(topics_axes, report)
    figure.suptitle(f"Editorial report {report.start:%d %b}\u2013{report.end:%d %b %Y}: "
                    f"{report.decided} decided, {report.pending} waiting",
                    fontsize=TITLE, fontweight="bold")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def write_chart(report: Report, path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(chart_png(report))
    return path


def _days(axes, report: Report) -> None:
    labels = [f"{d.date:%a}\n{d.date:%d}" for d in report.days]
    positions = range(len(labels))
    published = [d.published for d in report.days]
    skipped = [d.skipped for d in report.days]
    axes.bar(positions, published, color=GREEN, label="published")
    axes.bar(positions, skipped, bottom=published, color=VERMILLION, label="skipped")
    axes.set_title("Decisions per day", fontsize=HEADING)
    axes.set_ylabel("decisions", fontsize=LABEL)
    axes.set_xlabel("day", fontsize=LABEL)
    axes.set_xticks(list(positions), labels)
    axes.tick_params(labelsize=TICK)
    if len(labels) > 14:  # a month or more: label every few days
        step = -(-len(labels) // 14)
        for n, tick in enumerate(axes.get_xticklabels()):
            tick.set_visible(n % step == 0)
    axes.set_ylim(bottom=0, top=max([p + s for p, s in zip(published, skipped,
                                                           strict=True)] + [1]) * HEADROOM)
    queue = axes.twinx()
    queue.plot(positions, [d.pending for d in report.days], color=BLACK, linestyle="--",
               marker="o", linewidth=1.5, markersize=4, label="waiting")
    queue.set_ylabel("articles waiting at day's end", fontsize=LABEL)
    queue.tick_params(labelsize=TICK)
    queue.set_ylim(bottom=0, top=max([d.pending for d in report.days] + [1]) * HEADROOM)
    for counted in (axes.yaxis, queue.yaxis):
        counted.set_major_locator(MaxNLocator(integer=True))
    handles = axes.get_legend_handles_labels()[0] + queue.get_legend_handles_labels()[0]
    axes.legend(handles=handles, loc="upper left", ncols=3, fontsize=TICK, framealpha=0.9,
                columnspacing=1.0, handlelength=1.5)
    axes.spines[["top"]].set_visible(False)


def _topics(axes, report: Report) -> None:
    active = [t for t in report.topics if t.new or t.decided]  # bars of zero say nothing
    shown = active[:MAX_TOPICS][::-1]  # the biggest at the top
    rows = range(len(shown))
    height = 0.4
    axes.barh([r + height / 2 for r in rows], [t.new for t in shown], height, color=SKY,
              label="new")
    axes.barh([r - height / 2 for r in rows], [t.decided for t in shown], height,
              color=ORANGE, label="decided", hatch="//", edgecolor="white")
    axes.set_yticks(list(rows), [_short(t.topic) for t in shown])
    axes.tick_params(labelsize=TICK)
    axes.set_title(f"Top {MAX_TOPICS} topics: new, decided" if len(active) > MAX_TOPICS
                   else "Topics: new, decided", fontsize=HEADING)
    axes.set_xlabel("articles", fontsize=LABEL)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(-0.6, len(shown) + 0.4)  # a free row at the top for the legend
    if shown:
        axes.legend(loc="upper right", ncols=2, fontsize=TICK, framealpha=0.9)
    else:
        axes.text(0.5, 0.5, "no topics in this period", ha="center", va="center",
                  transform=axes.transAxes, fontsize=LABEL)
    axes.spines[["top", "right"]].set_visible(False)


def _short(topic: str, limit: int = 16) -> str:
    return topic if len(topic) <= limit else topic[: limit - 1] + "…"
