"""Search terms (media/terms.py) with the real spaCy English pipeline: the relevance corpus of
bench/relevance.tsv, head nouns for cards and posters, the per-language tagger table, and the filter on
terms an LLM suggests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from creator_tools.media import shots, terms

ROOT = Path(__file__).resolve().parents[1]


def bench():
    spec = importlib.util.spec_from_file_location("relevance", ROOT / "bench" / "relevance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_picturable_word_is_searched_for_in_nine_of_ten_sentences():
    relevance = bench()
    rows = [line.split("\t") for line in relevance.CORPUS.read_text().splitlines() if line and not line.startswith("#")]
    assert len(rows) >= 40 and sum(marked == "-" for _, marked, _ in rows) >= 5
    found = shots.sentence_queries([s for s, _, _ in rows], [h for _, _, h in rows], "a video", "en")
    after = sum(relevance.holds(q[0] if q else "", m, h) for (_, m, h), q in zip(rows, found))
    before = sum(relevance.holds(relevance.old_make_query(s, s, h), m, h) for s, m, h in rows)
    assert after >= 0.9 * len(rows) > before, (after, before)
    for query in found:
        assert query and all(len(q.split()) <= terms.MAX_WORDS for q in query)


def test_short_nouns_among_long_words():
    found = shots.sentence_queries(["Before bed a sleepy cat curls up on the rug.",
                                    "Suddenly everything outside turns into fire."], ["", ""], "", "en")
    assert found[0][:2] == ["sleepy cat", "cat"] and found[1][0] == "fire"


def test_cards_and_posters_picture_the_head_noun(tmp_path, monkeypatch):
    from creator_tools.engines.visuals import Shot, VisualSettings
    from creator_tools.engines.visuals_cards import CardsProvider
    from creator_tools.media import picture_cards

    assert terms.head_first("home espresso")[:2] == ["espresso", "home"]
    assert picture_cards.choose_emoji(terms.head_first("home espresso"))[0] == "☕"  # cs-thumb's poster
    assert picture_cards.choose_emoji(terms.head_first("Your sourdough is made of flour and water."))[0] == "🍞"
    assert picture_cards.choose_emoji(["ends", "soon", "top"])[0] not in "🔚🔜🔝"  # words on a sign, no picture
    monkeypatch.setenv("CS_OUT_DIR", str(tmp_path))
    text = "Why does home espresso taste so bitter?"
    shot = Shot(0, 2, text, "home espresso", width=108, height=192, heads=terms.head_first(text))
    card = CardsProvider(VisualSettings(width=108, height=192)).find(shot, set())
    assert card.extra["emoji"] == "☕", card
    # a README run drew a guide dog for "The ultimate guide ..." in a home espresso video: a compound's
    # modifier ("guide dog") names no picture, and the topic's head noun stands in
    text = "The ultimate guide for you."
    shot = Shot(0, 2, text, "guide", topic="home espresso", width=108, height=192, heads=terms.head_first(text), index=1)
    card = CardsProvider(VisualSettings(width=108, height=192)).find(shot, set())
    assert card.extra["emoji"] == "☕", card


def test_a_tagger_per_language():
    assert terms.tagger_for("en-GB") is terms.english and terms.tagger_for(None) is terms.english
    assert terms.tagger_for("de") is terms.plain  # no German tagger yet: the content words
    assert "katze" in terms.sentence_terms(["Die Katze schläft auf dem Sofa."], "de")[0].phrases


@pytest.mark.parametrize("offered, kept", [
    ([["sleepy cat", "kitten"]], ["sleepy cat"]),  # "kitten" shares no stem with the sentence: dropped
    ([["spaceship"]], None),  # nothing kept: the rule-based terms stand
])
def test_suggested_terms_must_share_a_stem(offered, kept):
    rules = [["sleepy cat", "cat"]]
    found = shots.suggested(lambda sentences, topic: offered, ["A sleepy cat naps."], ["A sleepy cat naps."],
                            ["sofa"], "pets", rules)
    assert found == ([kept + ["cat"]] if kept else rules)
