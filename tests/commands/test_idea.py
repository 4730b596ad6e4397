"""cs-idea on the real engines: the bundled local model, and the same model behind a loopback
OpenAI-compatible server (llama_cpp.server)."""

from __future__ import annotations

import json

import pytest

from creator_tools import text
from media_fixtures import run_cs

CONCEPT_KEYS = {"id", "topic", "title", "hook", "angle", "audience", "format"}


def check_concepts(records, topic, most):
    assert 1 <= len(records) <= most
    assert len({r["id"] for r in records}) == len(records)
    for record in records:
        assert CONCEPT_KEYS <= record.keys()
        assert record["topic"] == topic
        assert 0 < len(record["title"]) <= 100 and "<" not in record["title"]
        assert record["format"] in ("short", "long")
        assert all(isinstance(record[k], str) and record[k] for k in CONCEPT_KEYS)
    for a in records:
        for b in records:
            assert a is b or not text.near_duplicate(a["title"], b["title"])


@pytest.mark.slow
def test_local_engine_streams_valid_concepts_and_a_seed_repeats_them(tmp_path):
    first = run_cs("idea", "", "home espresso", "-n", "2", "--seed", "11", "--format", "short", cwd=tmp_path)
    assert first.code == 0, first.stderr
    assert "Traceback" not in first.stderr  # llama.cpp's model freed at exit, not in Llama.__del__
    check_concepts(first.records, "home espresso", 2)
    assert all(r["format"] == "short" for r in first.records)
    again = run_cs("idea", "", "home espresso", "-n", "2", "--seed", "11", "--format", "short", cwd=tmp_path)
    assert again.records == first.records


@pytest.mark.slow
def test_history_titles_are_not_repeated(tmp_path):
    first = run_cs("idea", "", "bicycle repair", "-n", "1", "--seed", "5", cwd=tmp_path)
    assert first.code == 0, first.stderr
    history = tmp_path / "published.jsonl"
    history.write_text("".join(json.dumps({"meta": {"title": r["title"]}}) + "\n" for r in first.records))
    second = run_cs("idea", "", "bicycle repair", "-n", "1", "--seed", "5", "--history", str(history), cwd=tmp_path)
    assert second.code == 0, second.stderr
    for record in second.records:
        assert not any(text.near_duplicate(record["title"], r["title"]) for r in first.records)
    assert "near-duplicate" in second.stderr


@pytest.mark.slow
def test_openai_engine_against_a_loopback_server(tmp_path, openai_server):
    env = {"OPENAI_BASE_URL": openai_server, "OPENAI_API_KEY": "local"}
    topics = tmp_path / "topics.txt"
    topics.write_text("# comment\nrain gardens\n")
    result = run_cs("idea", "", "-t", str(topics), "-n", "1", "--model", "smollm2", "--seed", "3", cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    check_concepts(result.records, "rain gardens", 1)


def test_near_duplicate_titles():
    assert text.near_duplicate("Espresso Mistakes Every Beginner Makes", "espresso mistakes every beginner makes")
    assert text.near_duplicate("The Espresso Mistakes Every Beginner Makes", "Espresso Mistakes Beginners Make Every Day")
    assert not text.near_duplicate("Espresso Mistakes Every Beginner Makes", "How to Descale a Kettle")


def test_finished_records_pass_through_without_engine_calls(tmp_path, dead_api):
    done = [{"id": "a1", "topic": "tea", "title": "Green Tea Myths", "hook": "h", "angle": "a", "audience": "x",
             "format": "short"}, {"id": "a2", "topic": "tea", "title": "Oolong in 60 seconds"}]
    # The engine points at a closed port: any call would fail the record.
    result = run_cs("idea", done, "--engine", "openai", cwd=tmp_path, env=dead_api)
    assert result.code == 0, result.stderr
    assert result.records == done and result.stderr == ""


def test_bad_input_gives_one_clear_line(tmp_path):
    empty = run_cs("idea", "", "  ", cwd=tmp_path)
    assert empty.code == 2 and empty.records == []
    assert empty.stderr.strip().startswith("cs-idea: error:") and "empty topic" in empty.stderr
    assert len(empty.stderr.strip().splitlines()) == 1 and "Traceback" not in empty.stderr

    no_topic = run_cs("idea", '{"id": "r1", "subject": "tea"}\n', cwd=tmp_path)
    assert no_topic.code == 1 and "no 'topic'" in no_topic.stderr

    missing_file = run_cs("idea", "", "-t", str(tmp_path / "nope.txt"), cwd=tmp_path)
    assert missing_file.code == 2 and "cannot read topics file" in missing_file.stderr


def test_keep_going_turns_bad_lines_into_errors(tmp_path, dead_api):
    lines = '{"id": "ok", "topic": "tea", "title": "Tea"}\nnot json\n{"id": "r2", "topic": ""}\n'
    result = run_cs("idea", lines, "-k", "--engine", "openai", cwd=tmp_path, env=dead_api)
    assert result.code == 3
    ids = [r["id"] for r in result.records]
    assert ids[0] == "ok" and ids[2] == "r2" and len(ids) == 3
    bad_line = result.records[1]["_error"]  # the unparseable line keeps its place as an error record
    assert bad_line["command"] == "cs-idea" and bad_line["line"] == 2 and bad_line["type"] == "BadInput"
    assert result.records[2]["_error"]["command"] == "cs-idea"
    assert "<stdin>:2: not a JSON object" in result.stderr


def test_unreachable_api_names_the_url(tmp_path, dead_api):
    result = run_cs("idea", "", "tea", "--engine", "openai", cwd=tmp_path, env=dead_api)
    assert result.code == 1
    assert "cannot reach" in result.stderr and "OPENAI_BASE_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_key_names_the_variable(tmp_path):
    result = run_cs("idea", "", "tea", "--engine", "openai", cwd=tmp_path)
    assert result.code == 1 and "OPENAI_API_KEY" in result.stderr


def test_a_concept_borrowing_the_example_is_off_topic():
    from creator_tools.commands.idea import on_topic

    leak = {"title": "Super Sourdough", "hook": "Coffee art for you.", "angle": "coffee"}
    assert not on_topic(leak, "coffee art ☕")
    assert on_topic({"title": "Latte Art at Home", "hook": "Milk matters.", "angle": "Three pours."}, "latte art")
    assert not on_topic({"title": "Budget Travel", "hook": "Go cheap.", "angle": "Hostels."}, "latte art")
    # the title itself must name the topic: a hook about it does not rescue an unrelated title
    assert not on_topic({"title": "Beverage of the Day", "hook": "Budget meal prep saves money.",
                         "angle": "Meal prep on a budget."}, "budget meal prep")


def test_a_wrong_engine_stops_once_even_with_keep_going(tmp_path):
    lines = '{"id": "a", "topic": "tea"}\n{"id": "b", "topic": "coffee"}\n'
    result = run_cs("idea", lines, "-k", "--engine", "bogus", cwd=tmp_path)
    assert result.code == 2 and result.records == []
    assert result.stderr.strip().splitlines() == [
        "cs-idea: error: unknown LLM engine 'bogus'; use one of: local, openai (--engine or CS_LLM_ENGINE)"]
    click_error = run_cs("idea", "", "-n", "0", "tea", cwd=tmp_path)
    assert click_error.code == 2 and click_error.stderr.startswith("cs-idea: error: Invalid value for '-n'")


def test_topic_of_the_wrong_type_and_a_non_utf8_topics_file(tmp_path):
    """Issue 10, bad input 14 (topic 42 is not "empty") and 7 (non-UTF-8 topics file: one line, no traceback)."""
    run = run_cs("idea", [{"id": "n", "topic": 42}, {"id": "e", "topic": "  "}], "-k", cwd=tmp_path)
    assert run.code == 3
    assert "record n: 'topic' must be text, not a number (42)" in run.stderr
    assert "record n: empty topic" not in run.stderr and "record e: empty topic" in run.stderr
    topics = tmp_path / "topics.txt"
    topics.write_bytes(b"home espresso\nlatte \xff\xfe art\n")
    bad = run_cs("idea", "", "-t", str(topics), cwd=tmp_path)
    assert bad.code == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == (f"cs-idea: error: {topics}:2: not UTF-8 text (byte 0xff at column 7); "
                                  "save the file as UTF-8")


def test_model_fields_are_tidied_into_complete_phrases():
    from creator_tools.commands.idea import tidy

    concept = tidy({"title": "**Espresso at Home**: Dial In Your Grinder, Weigh Every Dose and Time the Shot Without "
                             "Guessing, because you should start your day",
                    "hook": "Your espresso is sour. Your espresso is sour. Grind finer.", "angle": "[Five fixes]",
                    "audience": "“home baristas”", "format": "short"})
    assert concept["title"] == "Espresso at Home: Dial In Your Grinder, Weigh Every Dose and Time the Shot Without Guessing"
    assert concept["hook"] == "Your espresso is sour. Grind finer."
    assert concept["angle"] == "Five fixes" and concept["audience"] == "home baristas"
    listed = tidy({"title": "Espresso", "hook": "1. Learn how to make espresso with your own hands, 2. Practice with the "
                   "right equipment, 3. Get started today!", "angle": "a", "audience": "b", "format": "short"})
    assert listed["hook"] == ("Learn how to make espresso with your own hands. Practice with the right equipment. "
                              "Get started today!")  # a README run's hook, read out as "one", "two", "three"
