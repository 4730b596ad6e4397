"""The share of shot queries that hold the word a viewer would picture, before and after issue 16.

Reads bench/relevance.tsv (sentence, the picturable word marked by hand or "-", the segment's `visual`
hint) and prints, for the old rule (the longest content words, frozen below) and for cs-visuals' queries
today, the share of sentences whose first query holds the marked word; a sentence with no picturable word
passes when its query is its segment's hint. Run: .venv/bin/python bench/relevance.py [-v]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from creator_tools.media import shots
from creator_tools.text import content_words, stem

CORPUS = Path(__file__).with_name("relevance.tsv")


def old_make_query(text: str, sentence: str = "", context: str = "") -> str:
    """make_query as it was before issue 16 (media/shots.py): four longest content words in spoken order."""
    own = content_words(text)
    if len(own) > 4:
        keep = set(sorted(own, key=len, reverse=True)[:4])
        own = [w for w in own if w in keep]
    stems = {stem(w) for w in own}
    for source in (sentence, context):
        for word in content_words(source):
            if len(own) >= 2:
                break
            if stem(word) not in stems:
                own.append(word)
                stems.add(stem(word))
    return " ".join(own)


def forms(word: str) -> set[str]:
    """A word and its singular ("strawberries" -> strawberry, "leaves" -> leaf, "beans" -> bean)."""
    word = word.lower()
    found = {word, stem(word)}
    for suffix, repl in (("ies", "y"), ("ves", "f"), ("es", "")):
        if word.endswith(suffix):
            found.add(word[: -len(suffix)] + repl)
    return found


def holds(query: str, marked: str, hint: str) -> bool:
    if marked == "-":
        return query.strip().lower() == " ".join(content_words(hint))
    wanted = forms(marked)
    return any(forms(word) & wanted for word in query.split())


def main() -> None:
    verbose = "-v" in sys.argv
    rows = [line.rstrip("\n").split("\t") for line in CORPUS.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    started = time.monotonic()
    after = shots.sentence_queries([sentence for sentence, _, _ in rows], [hint for _, _, hint in rows],
                                   "a video", "en")
    seconds = time.monotonic() - started
    before_ok = after_ok = 0
    for (sentence, marked, hint), tried in zip(rows, after):
        old = old_make_query(sentence, sentence, hint)
        new = tried[0] if tried else ""
        before_ok += holds(old, marked, hint)
        after_ok += holds(new, marked, hint)
        if verbose:
            print(f"{'ok ' if holds(old, marked, hint) else 'no '}{'ok ' if holds(new, marked, hint) else 'no '}"
                  f"{marked:12} old={old!r:45} new={tried}")
    total = len(rows)
    print(f"relevance: {total} sentences ({sum(m == '-' for _, m, _ in rows)} with no picturable word)")
    print(f"before (longest content words): {before_ok}/{total} = {100 * before_ok / total:.1f}%")
    print(f"after (tagged nouns):           {after_ok}/{total} = {100 * after_ok / total:.1f}%  "
          f"({seconds:.2f} s for the tagger's load and {total} sentences)")


if __name__ == "__main__":
    main()
