"""Content checks on the corpus: each check's hits (bad texts it was meant to catch) and false alarms
(clean texts it flagged), the time per record, and the candidates measured for `offensive` and `off-topic`.

    .venv/bin/python bench/checks.py            # the figures
    .venv/bin/python bench/checks.py --compare  # also the candidate libraries and methods, where installed

tests/test_checks.py asserts the figures stay above a floor.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "checks_corpus.jsonl"


def corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(rows: list[dict] | None = None) -> dict:
    """{check: {"meant": N, "hits": N, "false_alarms": N, "false_blocks": N}, "_seconds": per record}."""
    from creator_tools import checks

    rows = rows or corpus()
    checks.run(rows[0]["record"])  # load the word list and the model before timing
    figures = {name: {"meant": 0, "hits": 0, "false_alarms": 0, "false_blocks": 0, "missed": [], "alarms": []}
               for name in checks.CHECKS}
    started = time.perf_counter()
    for row in rows:
        found = checks.run(row["record"])
        fired = {f["check"] for f in found}
        blocked = {f["check"] for f in found if f["severity"] == "block"}
        for name in row["expect"]:
            figures[name]["meant"] += 1
            if name in fired:
                figures[name]["hits"] += 1
            else:
                figures[name]["missed"].append(row["record"]["id"])
        if row["label"] == "clean":
            for name in fired:
                figures[name]["false_alarms"] += 1
                figures[name]["alarms"].append(row["record"]["id"])
            for name in blocked:
                figures[name]["false_blocks"] += 1
    figures["_seconds"] = (time.perf_counter() - started) / len(rows)
    figures["_counts"] = {"bad": sum(r["label"] == "bad" for r in rows), "clean": sum(r["label"] == "clean" for r in rows)}
    return figures


def compare_offensive(rows: list[dict]) -> None:
    """Each candidate library on the texts of the `offensive` rows (hits) and the clean rows (alarms)."""
    from creator_tools import checks

    bad = [t for r in rows if "offensive" in r["expect"] for _, t in checks.texts(r["record"])]
    bad_rows = [[t for _, t in checks.texts(r["record"])] for r in rows if "offensive" in r["expect"]]
    clean_rows = [[t for _, t in checks.texts(r["record"])] for r in rows if r["label"] == "clean"]
    candidates = {}
    try:
        from glin_profanity import Filter

        glin = Filter({"languages": ["english"]})
        candidates["glin-profanity 4.1.0"] = lambda t: glin.is_profane(t)
    except ImportError:
        pass
    try:
        from better_profanity import profanity

        profanity.load_censor_words()
        candidates["better-profanity 0.7.0"] = profanity.contains_profanity
    except ImportError:
        pass
    try:
        from profanity_check import predict

        candidates["alt-profanity-check 1.9.1"] = lambda t: bool(predict([t])[0])
    except ImportError:
        pass
    candidates["checks.offensive_words (glin list + curated + inflections - documentary)"] = (
        lambda t: bool(checks.offensive_words(t)))
    del bad
    for name, judge in candidates.items():
        started = time.perf_counter()
        hits = sum(any(judge(t) for t in texts) for texts in bad_rows)
        alarms = sum(any(judge(t) for t in texts) for texts in clean_rows)
        ms = (time.perf_counter() - started) * 1000 / (len(bad_rows) + len(clean_rows))
        print(f"  offensive  {name:75} hits {hits}/{len(bad_rows)}  false alarms {alarms}/{len(clean_rows)}  {ms:.1f} ms/record")


def compare_off_topic(rows: list[dict]) -> None:
    """The embedding model against stem overlap on the off-topic rows and the clean rows."""
    from creator_tools import checks

    relevant = [r for r in rows if "off-topic" in r["expect"] or r["label"] == "clean"]
    for label, use_model in (("all-MiniLM-L6-v2 int8 ONNX", True), ("stems overlap (no model)", False)):
        started = time.perf_counter()
        judged = {r["record"]["id"]: checks.judge_off_topic(r["record"], use_model) for r in relevant}
        ms = (time.perf_counter() - started) * 1000 / len(relevant)
        meant = [r for r in relevant if "off-topic" in r["expect"]]
        hits = sum(bool(judged[r["record"]["id"]]) for r in meant)
        blocks = sum(any(f["severity"] == "block" for f in judged[r["record"]["id"]]) for r in meant)
        alarms = sum(bool(judged[r["record"]["id"]]) for r in relevant if r["label"] == "clean")
        print(f"  off-topic  {label:75} hits {hits}/{len(meant)} (blocks {blocks})  false alarms {alarms}/"
              f"{len(relevant) - len(meant)}  {ms:.1f} ms/record")


def main() -> None:
    rows = corpus()
    started = time.perf_counter()
    from creator_tools import checks

    checks.run(rows[0]["record"])
    print(f"load: {time.perf_counter() - started:.2f} s (word list and embedding model); model: "
          f"{'all-MiniLM-L6-v2 int8 ONNX' if checks.embedder() else 'none (stems overlap)'}")
    figures = evaluate(rows)
    counts = figures["_counts"]
    print(f"corpus: {counts['bad']} bad records, {counts['clean']} clean ones ({CORPUS.name})")
    for name, row in figures.items():
        if name.startswith("_"):
            continue
        print(f"  {name:12} hits {row['hits']}/{row['meant']}  false alarms {row['false_alarms']}/{counts['clean']}"
              f" (blocks {row['false_blocks']})" + (f"  missed {row['missed']}" if row["missed"] else "")
              + (f"  alarms {row['alarms']}" if row["alarms"] else ""))
    print(f"time: {figures['_seconds'] * 1000:.1f} ms per record (all checks, after load)")
    if "--compare" in sys.argv:
        compare_offensive(rows)
        compare_off_topic(rows)


if __name__ == "__main__":
    main()
