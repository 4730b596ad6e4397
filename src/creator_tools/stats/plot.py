"""Charts: unicode sparklines and bars for the terminal, and a PNG (matplotlib, Agg) for files."""

from __future__ import annotations

from typing import Sequence

TICKS = "▁▂▃▄▅▆▇█"
EIGHTHS = " ▏▎▍▌▋▊▉█"


def sparkline(values: Sequence[float], width: int = 28) -> str:
    """One character per value (the last `width` values); empty when there are none."""
    values = [float(v or 0) for v in values][-width:]
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return (TICKS[3] if high else TICKS[0]) * len(values)
    return "".join(TICKS[int((v - low) / (high - low) * (len(TICKS) - 1) + 0.5)] for v in values)


def bar(value: float, top: float, width: int = 30) -> str:
    """A horizontal bar in eighth-blocks, `width` cells for `top`."""
    if top <= 0 or value <= 0:
        return ""
    cells = value / top * width
    full = int(cells)
    rest = int((cells - full) * 8)
    return "█" * full + (EIGHTHS[rest] if rest else "")


def terminal_chart(records: list[dict], channel: list[tuple[str, int]], top: int = 10) -> str:
    """Channel views per day as a sparkline, then the top videos as bars."""
    lines = []
    if channel:
        total = sum(v for _, v in channel)
        lines.append(f"channel views/day {channel[0][0]}..{channel[-1][0]}  {sparkline([v for _, v in channel], 60)}  "
                     f"total {total:,}")
    best = [r for r in records if r["stats"]["views"] > 0][:top]
    if best:
        peak = best[0]["stats"]["views"]
        label = max(len(_label(r)) for r in best)
        lines.append("top videos by views in the window:")
        for record in best:
            s = record["stats"]
            lines.append(f"  {_label(record):<{label}}  {bar(s['views'], peak):<31} {s['views']:,}")
    return "\n".join(lines)


def _label(record: dict) -> str:
    title = record.get("title") or record["stats"]["video_id"]
    return title if len(title) <= 32 else title[:31] + "…"


def png(path: str, channel: list[tuple[str, int]], records: list[dict], window: dict, top: int = 10) -> None:
    """Three panels: views per day, top videos by views, retention (average % viewed) of those videos."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..core.files import atomic_output

    best = [r for r in records if r["stats"]["views"] > 0][:top][::-1]
    fig, (days_ax, top_ax, keep_ax) = plt.subplots(3, 1, figsize=(10, 11), constrained_layout=True)
    if channel:
        xs = list(range(len(channel)))
        days_ax.fill_between(xs, [v for _, v in channel], color="#c6dbef")
        days_ax.plot(xs, [v for _, v in channel], color="#2171b5", linewidth=1.5)
        ticks = xs[:: max(1, len(xs) // 8)]
        days_ax.set_xticks(ticks, [channel[i][0] for i in ticks], rotation=30, ha="right", fontsize=8)
        split = next((i for i, (day, _) in enumerate(channel) if day >= window["start"]), None)
        if split:
            days_ax.axvline(split - 0.5, color="#888", linestyle="--", linewidth=1)
            days_ax.text(split, days_ax.get_ylim()[1] * 0.95, " window", va="top", fontsize=8, color="#555")
    days_ax.set_title("Channel views per day")
    days_ax.set_ylabel("views")
    labels = [_label(r) for r in best]
    top_ax.barh(labels, [r["stats"]["views"] for r in best], color="#6baed6")
    top_ax.set_title(f"Top videos by views, {window['start']} .. {window['end']}")
    top_ax.set_xlabel("views")
    keep_ax.barh(labels, [r["stats"]["avg_view_pct"] for r in best], color="#74c476")
    keep_ax.set_xlim(0, 100)
    keep_ax.set_title("Retention: average percentage of each video viewed")
    keep_ax.set_xlabel("% viewed")
    for ax in (top_ax, keep_ax):
        ax.tick_params(axis="y", labelsize=8)
    with atomic_output(path) as temp:  # a FIFO or device is written straight to, never replaced
        fig.savefig(temp, format="png", dpi=100)
    plt.close(fig)
