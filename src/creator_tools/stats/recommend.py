"""What does better on this channel: groups of videos (topic, format, length, hook, publish hour) compared
with the channel by the median of a per-video metric, with counts and effect sizes instead of adjectives.

Effect sizes, group vs the rest of the channel:
- ratio: group median / channel median (1.0 = typical);
- Cliff's delta: P(group video beats a rest video) - P(it loses), in [-1, 1], rank-based, so one viral
  video cannot carry a group;
- Cohen's d on log(1 + metric), pooled standard deviation (None when either side has under 2 videos).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics
from collections import Counter
from typing import Callable

from ..records import new_id
from .store import Store

METRICS = {
    "views": "views/day",
    "watch_minutes": "watch minutes/day",
    "avg_view_pct": "% viewed",
}
# Cliff's delta below 0.147 is "negligible" (Romano et al., 2006): such a group is not recommended.
MIN_EFFECT = 0.147
LENGTHS = ((60, "up to 1 min"), (180, "1-3 min"), (480, "3-8 min"), (900, "8-15 min"), (math.inf, "over 15 min"))


def _hour(stamp: str | None) -> int | None:
    if not stamp:
        return None
    try:
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo:
        when = when.astimezone(dt.timezone.utc)
    return when.hour


def hook_kind(hook: str | None) -> str | None:
    """The opening's kind: a question, a number, a direct 'you', or a plain statement."""
    if not hook or not hook.strip():
        return None
    if "?" in hook:
        return "question"
    if re.search(r"\d", hook):
        return "number"
    if re.search(r"\byou(r|'re)?\b", hook, re.IGNORECASE):
        return "you"
    return "statement"


# Shorts: vertical (or square) and at most 3 minutes since 15 October 2024; without the frame's shape
# (fileDetails is the owner's only), a minute or less is the safe reading.
SHORT_MAX_S, SHORT_MAX_S_UNKNOWN_SHAPE = 180, 60


def video_format(length: float | None, shape: str | None) -> str | None:
    """'short' or 'long' from the running time and the frame's shape."""
    if not length:
        return None
    if shape in ("vertical", "square"):
        return "short" if length <= SHORT_MAX_S else "long"
    if shape == "horizontal":
        return "long"
    return "short" if length <= SHORT_MAX_S_UNKNOWN_SHAPE else "long"


def _phrases(text: str | None) -> list[str]:
    """Content-word unigrams and bigrams of a title or description, in order."""
    from ..text import STOPWORDS, words

    tokens = [w.lower().strip("'’-") for w in words(text or "")]
    tokens = [w for w in tokens if len(w) > 2 and not w.isdigit() and w not in STOPWORDS]
    return [" ".join(tokens[i:i + 2]) for i in range(len(tokens) - 1)] + tokens


def _candidates(video: dict) -> list[tuple[str, int]]:
    """(phrase, source rank) for one video: its tags first (the creator's own words), then title, description."""
    out: list[tuple[str, int]] = []
    for tag in video.get("tags") or []:
        label = " ".join(str(tag).lower().split())
        if label:
            out.append((label, 0))
    out += [(p, 1) for p in _phrases(video.get("api_title") or video.get("title"))]
    out += [(p, 2) for p in _phrases((video.get("description") or "")[:500])]
    return out


def derive_topics(videos: list[dict]) -> dict[str, str]:
    """A topic for each video without one: its tag or title phrase that the most other videos share (at least
    two, and not every video: a channel-wide tag tells topics apart no better than none); ties go to the
    longer phrase, then tags over titles, then the earlier one. Descriptions are read only when tags and
    title share nothing, and only for phrases some tag or title uses: their boilerplate ("subscribe for more")
    is shared by every video."""
    found = {v["video_id"]: _candidates(v) for v in videos}
    df = Counter(label for candidates in found.values() for label in {c for c, _ in candidates})
    named = {c for candidates in found.values() for c, rank in candidates if rank < 2}
    out = {}
    for video in videos:
        if video.get("topic"):
            continue
        # A description phrase counts only where some video names it in a tag or title: a subject, not
        # the channel's sign-off.
        shared = [(label, rank, i) for i, (label, rank) in enumerate(found[video["video_id"]])
                  if 2 <= df[label] < len(videos) and (rank < 2 or label in named)]
        for tier in ((0, 1), (2,)):
            ranked = sorted((c for c in shared if c[1] in tier), key=lambda c: (-df[c[0]], -len(c[0].split()), c[1], c[2]))
            if ranked:
                out[video["video_id"]] = ranked[0][0]
                break
    return out


def profiles(store: Store, metric: str = "views") -> list[dict]:
    """Per video with stored days: its features and the metric (per day since publishing, or retention)."""
    lifetime = store.lifetime()
    first, last = store.day_range()
    videos = store.videos()
    derived = derive_topics(videos)  # for videos cs-publish did not upload: what YouTube knows of them
    out = []
    for video in videos:
        totals = lifetime.get(video["video_id"])
        if not totals or not last:
            continue
        views, minutes, pct_weighted = (float(v or 0) for v in totals[:3])  # PostgreSQL sums are Decimal
        first_row = totals[4]
        published = (video.get("publish_at") or video.get("published_at") or "")[:10]
        since = max(d for d in (first, published, str(first_row)) if d)
        days = max(1, (dt.date.fromisoformat(last) - dt.date.fromisoformat(since)).days + 1)
        value = {"views": views / days, "watch_minutes": minutes / days,
                 "avg_view_pct": pct_weighted / views if views else 0.0}[metric]
        length = video.get("length_s") or video.get("duration_s")
        out.append({
            "video_id": video["video_id"], "title": video.get("title") or video.get("api_title"),
            "topic": video.get("topic") or derived.get(video["video_id"]),
            "format": video.get("format") or video_format(length, video.get("shape")), "length_s": float(length) if length else None,
            "hook": video.get("hook"), "hook_kind": hook_kind(video.get("hook")),
            "hour": _hour(video.get("publish_at") or video.get("published_at")), "value": value,
        })
    return out


def _length_group(p: dict) -> str | None:
    return next(label for limit, label in LENGTHS if p["length_s"] <= limit) if p["length_s"] else None


def _hour_group(p: dict) -> str | None:
    return None if p["hour"] is None else f"{p['hour'] // 3 * 3:02d}-{p['hour'] // 3 * 3 + 2:02d} UTC"


DIMENSIONS: dict[str, Callable[[dict], str | None]] = {
    "topic": lambda p: p["topic"],
    "format": lambda p: p["format"],
    "length": _length_group,
    "hook": lambda p: p["hook_kind"],
    "publish_hour": _hour_group,
}


def cliffs_delta(group: list[float], rest: list[float]) -> float | None:
    """(#group > rest pairs - #group < rest pairs) / all pairs, from midranks (Mann-Whitney U) in
    O(N log N) rather than comparing every pair."""
    if not group or not rest:
        return None
    combined = sorted([(v, 0) for v in group] + [(v, 1) for v in rest])
    rank_sum, i = 0.0, 0
    while i < len(combined):
        j = i
        while j < len(combined) and combined[j][0] == combined[i][0]:
            j += 1
        midrank = (i + 1 + j) / 2  # ties share the mean of ranks i+1..j
        rank_sum += midrank * sum(1 for _, side in combined[i:j] if side == 0)
        i = j
    n, m = len(group), len(rest)
    u = rank_sum - n * (n + 1) / 2
    return round((2 * u - n * m) / (n * m), 3)


def cohens_d(group: list[float], rest: list[float]) -> float | None:
    if len(group) < 2 or len(rest) < 2:
        return None
    a, b = [math.log1p(v) for v in group], [math.log1p(v) for v in rest]
    pooled = ((len(a) - 1) * statistics.variance(a) + (len(b) - 1) * statistics.variance(b)) / (len(a) + len(b) - 2)
    if pooled <= 0:
        return None
    return round((statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(pooled), 3)


def compare(videos: list[dict], dimension: str) -> list[dict]:
    """Every group of one dimension with its evidence, best median first."""
    key = DIMENSIONS[dimension]
    channel = statistics.median(p["value"] for p in videos) if videos else 0.0
    groups: dict[str, list[dict]] = {}
    for p in videos:
        label = key(p)
        if label is not None:
            groups.setdefault(label, []).append(p)
    out = []
    for label, members in groups.items():
        values = [p["value"] for p in members]
        rest = [p["value"] for p in videos if key(p) != label]
        median = statistics.median(values)
        out.append({"group": label, "n": len(values), "n_rest": len(rest), "median": round(median, 2),
                    "ratio": round(median / channel, 2) if channel else None,
                    "cliffs_delta": cliffs_delta(values, rest), "cohens_d": cohens_d(values, rest),
                    "members": members})
    out.sort(key=lambda g: (-g["median"], -g["n"], g["group"]))
    return out


def _public(group: dict | None) -> dict | None:
    return None if group is None else {k: v for k, v in group.items() if k != "members"}


def _beats(group: dict, min_n: int, min_effect: float) -> bool:
    """Enough videos, a median above the channel's and a rank effect at least `min_effect`."""
    return group["n"] >= min_n and (group["ratio"] or 0) > 1 and (group["cliffs_delta"] or 0) >= min_effect


def _winner(groups: list[dict], min_n: int, min_effect: float) -> dict | None:
    return next((g for g in groups if _beats(g, min_n, min_effect)), None)


def recommend(store: Store, metric: str = "views", min_n: int = 2, limit: int = 5,
              min_effect: float = MIN_EFFECT) -> list[dict]:
    """Records `{id, topic, recommendation}` for the topics that beat the channel, best first."""
    videos = profiles(store, metric)
    if not videos:
        return []
    unit = METRICS[metric]
    channel = statistics.median(p["value"] for p in videos)
    compared = {d: compare(videos, d) for d in DIMENSIONS if d != "topic"}
    best = {d: _winner(groups, min_n, min_effect) for d, groups in compared.items()}
    # Evidence shows each dimension's leading group even when it is not recommended, so a null is explained.
    leading = {d: next((g for g in groups if g["n"] >= min_n), None) for d, groups in compared.items()}
    extras, fields = [], {"format": None, "length_s": None, "publish_hour": None, "hook": None}
    if best["format"]:
        fields["format"] = best["format"]["group"]
        extras.append(f"{best['format']['group']} videos {_effect(best['format'])}")
    if best["length"]:
        fields["length_s"] = int(round(statistics.median(p["length_s"] for p in best["length"]["members"])))
        extras.append(f"{best['length']['group']} {_effect(best['length'])}")
    if best["publish_hour"]:
        hours = Counter(p["hour"] for p in best["publish_hour"]["members"])
        fields["publish_hour"] = min(hours, key=lambda h: (-hours[h], h))
        extras.append(f"publishing {best['publish_hour']['group']} {_effect(best['publish_hour'])}")
    if best["hook"]:
        fields["hook"] = best["hook"]["group"]
        extras.append(f"{best['hook']['group']} hooks {_effect(best['hook'])}")
    topics = [g for g in compare(videos, "topic") if _beats(g, min_n, min_effect)][:limit]
    records = []
    for group in topics:
        top = max(group["members"], key=lambda p: p["value"])
        summary = (f"Videos on '{group['group']}' get a median {group['median']:,.1f} {unit}, {group['ratio']}x the "
                   f"channel median of {channel:,.1f} (n={group['n']} of {len(videos)}, Cliff's delta "
                   f"{group['cliffs_delta']:+.2f})")
        summary += ("; " + ", ".join(extras) + "." if extras else ".")
        evidence = {
            "metric": unit, "videos": len(videos), "channel_median": round(channel, 2), "min_n": min_n, "min_effect": min_effect,
            "topic": _public(group),
            **{d: None if g is None else {**_public(g), "recommended": g is best[d]} for d, g in leading.items()},
            "best_video": {"video_id": top["video_id"], "title": top["title"], "value": round(top["value"], 2)},
        }
        recommendation = {"summary": summary, **fields, "evidence": evidence}
        recommendation = {"id": new_id("recommendation", group["group"], recommendation), **recommendation}
        records.append({"id": new_id("stats-recommend", group["group"]), "topic": group["group"],
                        "recommendation": recommendation})
    return records


def _effect(group: dict) -> str:
    return f"{group['ratio']}x (n={group['n']}, Cliff's delta {group['cliffs_delta']:+.2f})"
