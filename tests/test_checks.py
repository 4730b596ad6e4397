"""The content checks (checks.py) on the corpus (tests/data/checks_corpus.jsonl, figures by bench/checks.py) and
on the cases the issue names: whole words and inflections, documentary words, the demo's bad script."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from creator_tools import checks

ROOT = Path(__file__).resolve().parent.parent
BENCH = runpy.run_path(str(ROOT / "bench" / "checks.py"))


def test_corpus_figures_stay_above_the_floor():
    figures = BENCH["evaluate"]()
    assert figures["_counts"]["bad"] >= 30 and figures["_counts"]["clean"] >= 30
    for name in checks.CHECKS:
        row = figures[name]
        assert row["meant"] >= 3, name
        assert row["hits"] == row["meant"], f"{name} missed {row['missed']}"
        assert row["false_blocks"] == 0, f"{name} blocked clean records {row['alarms']}"
        assert row["false_alarms"] <= 1, f"{name} flagged clean records {row['alarms']}"
    assert figures["_seconds"] < 1.0  # per record, after the word list and the model are loaded


@pytest.mark.parametrize("clean", [
    "Scunthorpe won at home.", "Interviewers assess your skills.", "A classic martini.", "The cocktail hour.",
    "Many were shot on the beach.", "Blood samples matched the killer.", "Millions were killed in the war.",
    "The trial heard how she was raped and murdered.", "Penicillin breaks the cell wall.", "A swastika on the flag.",
    "x" * 120, "Negro League baseball began in 1920."])
def test_documentary_and_innocent_words_pass(clean):
    assert checks.offensive_words(clean) == []


@pytest.mark.parametrize("bad, word", [("Mulatto women", "Mulatto"), ("mulattoes", "mulattoes"),
                                        ("those retards", "retards"), ("Motherfuckers!", "Motherfuckers"),
                                        ("f*ck this", "f*ck"), ("FUCKING machine", "FUCKING")])
def test_slurs_and_profanity_in_any_inflection(bad, word):
    assert word.lower() in [w.lower() for w in checks.offensive_words(bad)]


def test_words_are_judged_in_the_language_they_are_written_in():
    assert checks.offensive_words("Une bite", "fr") and checks.offensive_words("A dog bite", "en") == []
    french = {"script": {"language": "fr", "segments": [{"text": "Une bite de chien."}]},
              "translations": {"en": {"title": "Those bitches, and a dog bite", "tags": []}}}
    assert [f["key"] for f in checks.offensive(french)] == ["script.segments[0].text", "translations.en.title"]
    assert checks.offensive_words("El cielo negro de la noche", "es") == []  # Spanish for black


def test_the_demo_script_is_caught_at_the_exact_keys():
    demo = json.loads((ROOT / "tests" / "data" / "checks_corpus.jsonl").read_text().splitlines()[0])["record"]
    found = {(f["check"], f["severity"], f["key"]) for f in checks.run(demo)}
    assert ("offensive", "block", "script.segments[1].text") in found
    assert ("title-list", "block", "script.segments[1].text") in found
    assert ("prompt-echo", "block", "script.segments[0].on_screen") in found
    assert ("cut-off", "warn", "audience") in found
    assert checks.run(demo)[0]["severity"] == "block"  # blocks first


def test_a_script_that_narrates_its_own_document_is_a_prompt_echo():
    """Read in a README run (SmolLM2, `cs-idea "home espresso" -n 1 --seed 3 | cs-script --length 30`)."""
    script = {"segments": [{"text": "Begin again tomorrow to continue forever more. End of the narration."},
                           {"text": "You're ready to make it! Begin with your next sentence: watch a new episode."},
                           {"text": "The end of the day is the best time for a slow espresso."}]}
    found = [(f["check"], f["key"]) for f in checks.prompt_echo({"script": script})]
    assert found == [("prompt-echo", "script.segments[0].text"), ("prompt-echo", "script.segments[1].text")]


def test_repeats_warn_twice_and_block_three_times():
    script = {"segments": [{"text": "Breathe in slowly now. Breathe in slowly now. Let go."}]}
    [twice] = checks.repeated({"script": script})
    assert twice["severity"] == "warn" and twice["key"] == "script.segments[0].text"
    script["segments"].append({"text": "Breathe in slowly now."})
    assert checks.repeated({"script": script})[0]["severity"] == "block"


def test_off_topic_judges_meaning_not_shared_words():
    rome = {"topic": "ancient history", "title": "The Last Days", "script": {"segments": [{"text": (
        "Legions were pulled back from Britain. Visigoths sacked the city in 410. "
        "Odoacer deposed the last emperor in 476. The senate lost its power.")}]}}
    assert checks.off_topic(rome) == []  # no word shared with the topic, and on topic
    match = {"topic": "home espresso", "title": "Pull a Better Espresso Shot", "script": {"segments": [{"text": (
        "The home side pressed high from the first whistle. Their striker scored twice before half time. "
        "The keeper saved a penalty. The visitors equalised late.")}]}}
    [finding] = checks.off_topic(match)
    assert finding["severity"] == "block" and finding["key"] == "script.segments[0].text"


def test_off_topic_gives_no_verdict_outside_english():
    """The embedding model is English, and shared stems blocked every clean Spanish script tried: a clean
    script about a balcony garden that never says "huerto urbano" again is not refused."""
    garden = {"topic": "huerto urbano", "title": "Tu primer huerto urbano en el balcón",
              "hook": "No necesitas un jardín para cultivar.", "script": {"language": "es", "segments": [{"text": (
                  "Elige macetas con buen drenaje. Los tomates cherry crecen bien al sol. Riega temprano por la "
                  "mañana. Añade compost una vez al mes.")}]}}
    assert checks.off_topic(garden) == []


def test_metadata_findings_name_the_field_and_a_registered_check_runs():
    [finding] = checks.metadata_rules({"meta": {"title": "x" * 101, "tags": []}})
    assert finding["key"] == "meta.title" and finding["severity"] == "block"

    @checks.check("test-only")
    def shouting(record):
        return [checks.finding("test-only", "warn", "title", record["title"], "shouting")] if record["title"].isupper() else []

    try:
        assert [f["check"] for f in checks.run({"title": "LOUD"})] == ["test-only"]
    finally:
        del checks.CHECKS["test-only"]


def test_import_is_cheap():
    probe = ("import sys\nimport creator_tools.checks\n"
             "print(','.join(m for m in ('glin_profanity', 'onnxruntime', 'numpy', 'tokenizers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_a_script_in_another_language_than_it_claims_is_a_finding():
    """A model that answers a Spanish prompt in English: the voice and captions would follow script.language."""
    segments = [{"text": "Good coffee starts with fresh beans and a clean grinder every morning."},
                {"text": "Grind just before brewing and use water at ninety degrees for the best taste."}]
    english = {"topic": "café en casa", "script": {"title": "Café", "language": "es", "segments": segments}}
    [found] = [f for f in checks.run(english) if f["check"] == "language"]
    assert found["severity"] == "block" and found["key"] == "script.segments[0].text"
    assert "reads as English" in found["message"]
    spanish = [{"text": "El buen café empieza con granos frescos y un molinillo limpio cada mañana."},
               {"text": "Muele justo antes de preparar y usa agua a noventa grados para el mejor sabor."}]
    assert not [f for f in checks.run({**english, "script": {**english["script"], "segments": spanish}})
                if f["check"] == "language"]
    arabic = {"script": {"language": "ar", "segments": [{"text": "Good coffee starts with fresh beans every day."}]}}
    assert [f["severity"] for f in checks.run(arabic) if f["check"] == "language"] == ["block"]
