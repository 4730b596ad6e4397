"""The network visual providers (Pexels, Pixabay, OpenAI-compatible images) against the loopback server of
tests/visuals_server.py over real HTTP: request shapes, colour-per-keyword answers, no repeats, the 24-hour
cache and kept downloads (a re-run makes zero requests), 429 with Retry-After, key rotation, bad keys, 5xx,
dropped and corrupt downloads, generated images at the frame's size. Also the one OpenAI client configuration
(an empty OPENAI_BASE_URL means unset for the LLM and the TTS engine alike)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from media_fixtures import run_cs, script_record  # noqa: E402
from visuals_server import ALWAYS, Catalog, Faults, VisualsServer, nearest_keyword  # noqa: E402

from creator_tools.engines.visuals import RateLimited, Shot, VisualSettings  # noqa: E402
from creator_tools.errors import ConfigError, EngineError  # noqa: E402

SENTENCES = {"coffee": "Fresh coffee starts the morning.", "ocean": "The ocean rolls in at dawn.",
             "forest": "A quiet forest path."}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with VisualsServer(tmp_path_factory.mktemp("visuals-server")) as running:
        yield running


@pytest.fixture
def api(server, tmp_path, monkeypatch):
    """The server with no faults and no counted requests, every provider pointed at it, a fresh $CS_OUT_DIR."""
    server.faults, server.catalog = Faults(), Catalog()
    server.reset_counts()
    for name, value in server.env(CS_OUT_DIR=str(tmp_path / "out"), CS_VISUALS_TRIES="3").items():
        monkeypatch.setenv(name, value)
    for name in ("CS_IMAGE_MODEL", "CS_VISUALS_MAX_WAIT"):
        monkeypatch.delenv(name, raising=False)
    return server


def shot(keyword: str, width: int = 1080, height: int = 1920, seconds: float = 3.0) -> Shot:
    return Shot(0.0, seconds, SENTENCES.get(keyword, f"Look at the {keyword}."), keyword, topic="a calm morning",
                width=width, height=height)


def provider(name: str, **settings):
    from creator_tools.engines.visuals import provider_class

    return provider_class(name)(VisualSettings(**settings))


def colour(path: str) -> tuple[int, int, int]:
    """The centre pixel of a still, or of a clip's middle frame (decoded by ffmpeg)."""
    from PIL import Image

    if path.endswith(".mp4"):
        frame = Path(path).with_suffix(".frame.png")
        done = subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "1", "-i", path, "-frames:v", "1", str(frame)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        path = str(frame)
    with Image.open(path) as image:
        return image.convert("RGB").getpixel((image.width // 2, image.height // 2))


def dimensions(path: str) -> tuple[int, int]:
    from creator_tools.media.ffmpeg import probe

    stream = next(s for s in probe(path)["streams"] if s["codec_type"] == "video")
    return stream["width"], stream["height"]


# --- Pexels and Pixabay: what is asked, what comes back ----------------------------------------------------


def test_pexels_answers_each_shot_with_its_own_keyword(api):
    pexels = provider("pexels")
    for keyword in ("coffee", "ocean", "forest"):
        asset = pexels.find(shot(keyword), set())
        assert asset.kind == "clip" and asset.provider == "pexels" and asset.asset_id.startswith("pexels:video:")
        assert nearest_keyword(colour(asset.path)) == keyword
        assert asset.license == "Pexels License" and asset.author.startswith("Pexels Filmer")
        assert asset.url.startswith("https://www.pexels.com/video/") and asset.synthetic is False
        assert asset.duration_s >= 3.0  # long enough for the 3 s shot, preferred over the 2 s clip
        width, height = dimensions(asset.path)
        assert height > width  # a portrait frame gets a portrait clip
    searches = [r for r in api.requests if r["service"] == "pexels"]
    assert [r["path"] for r in searches] == ["/videos/search"] * 3
    assert all(r["key"] == "pexels-key-1" and r["query"]["orientation"] == "portrait"
               and r["query"]["per_page"] == "15" for r in searches)


def test_landscape_frames_get_landscape_assets(api):
    asset = provider("pixabay").find(shot("ocean", 1920, 1080), set())
    width, height = dimensions(asset.path)
    assert width > height and nearest_keyword(colour(asset.path)) == "ocean"


def test_no_repeats_videos_then_photos_then_nothing(api):
    pexels, used, kinds = provider("pexels"), set(), []
    while (asset := pexels.find(shot("coffee"), used)) is not None:
        assert asset.asset_id not in used and nearest_keyword(colour(asset.path)) == "coffee"
        used.add(asset.asset_id)
        kinds.append(asset.kind)
    # The server has 3 portrait clips and 2 portrait photos of coffee: all five, clips first, then None.
    assert kinds == ["clip"] * 3 + ["still"] * 2
    assert any(r["path"] == "/v1/search" for r in api.requests)


def test_a_second_page_only_when_the_first_is_used_up(api):
    api.catalog.pexels_videos = {"coffee": 16}
    first_page = {f"pexels:video:{a['id']}" for a in api.assets("pexels", "videos", "coffee", "portrait")[:15]}
    asset = provider("pexels").find(shot("coffee"), first_page)
    assert asset.asset_id not in first_page and nearest_keyword(colour(asset.path)) == "coffee"
    pages = [r["query"].get("page") for r in api.requests if r["service"] == "pexels"]
    assert pages == ["1", "2"]


def test_threads_asking_the_same_thing_share_one_request(api):
    from concurrent.futures import ThreadPoolExecutor

    pexels = provider("pexels")
    with ThreadPoolExecutor(4) as pool:
        assets = list(pool.map(lambda _: pexels.find(shot("night"), set()), range(4)))
    assert len({a.path for a in assets}) == 1
    assert api.count("pexels") == 1 and api.count("media") == 1


def test_pixabay_request_shape_and_photo_fallback(api):
    api.catalog.pixabay_videos = {}  # no videos at all: the image search answers
    asset = provider("pixabay").find(shot("forest"), set())
    assert asset.kind == "still" and asset.asset_id.startswith("pixabay:photo:")
    assert asset.license == "Pixabay Content License" and asset.url.startswith("https://pixabay.com/photos/")
    assert nearest_keyword(colour(asset.path)) == "forest"
    videos, images = [r for r in api.requests if r["service"] == "pixabay"]
    assert videos["path"] == "/api/videos/" and videos["query"]["key"] == "pixabay-key-1"
    assert videos["query"]["safesearch"] == "true" and videos["query"]["q"] == "forest"
    assert images["path"] == "/api/" and images["query"]["image_type"] == "photo"
    assert images["query"]["orientation"] == "vertical"


def test_nothing_found_is_none_not_an_error(api):
    assert provider("pexels").find(shot("volcano"), set()) is None
    assert provider("pixabay").find(shot("volcano"), set()) is None


def test_a_rerun_makes_zero_requests(api):
    first = [provider("pexels").find(shot(k), set()) for k in ("coffee", "ocean")]
    first.append(provider("images").find(shot("forest"), set()))
    assert api.count() > 0
    api.reset_counts()
    again = [provider("pexels").find(shot(k), set()) for k in ("coffee", "ocean")]
    again.append(provider("images").find(shot("forest"), set()))
    assert [a.path for a in again] == [a.path for a in first]
    assert api.count() == 0  # answers from the 24 h cache, files kept by URL hash, images by prompt hash


# --- rate limits, keys, failures ---------------------------------------------------------------------------


def test_429_honours_retry_after_and_then_succeeds(api, capsys):
    api.faults.rate_limit["pexels"] = 1
    started = time.monotonic()
    asset = provider("pexels").find(shot("coffee"), set())
    assert asset and time.monotonic() - started >= 1.0  # Retry-After: 1
    assert "429" in capsys.readouterr().err


def test_429_every_time_raises_rate_limited_and_stops_asking(api):
    api.faults.rate_limit["pixabay"] = ALWAYS
    api.faults.retry_after = "0"
    pixabay = provider("pixabay")
    with pytest.raises(RateLimited):
        pixabay.find(shot("coffee"), set())
    assert api.count("pixabay") == 3  # CS_VISUALS_TRIES
    with pytest.raises(RateLimited):  # the next shot goes straight on to the next provider
        pixabay.find(shot("ocean"), set())
    assert api.count("pixabay") == 3


def test_retry_after_is_capped_and_reads_http_dates(api, monkeypatch):
    from email.utils import formatdate

    from creator_tools.engines.visuals_http import retry_after

    assert retry_after("7", 1.0) == 7.0
    assert 3 < retry_after(formatdate(time.time() + 5, usegmt=True), 1.0) <= 5
    assert retry_after("soon", 2.0) == 2.0
    monkeypatch.setenv("CS_VISUALS_MAX_WAIT", "1")
    monkeypatch.setenv("CS_VISUALS_TRIES", "2")
    api.faults.rate_limit["pexels"] = 1
    api.faults.retry_after = "3600"
    started = time.monotonic()
    assert provider("pexels").find(shot("ocean"), set())
    assert time.monotonic() - started < 5  # waited 1 s (the cap), not an hour


@pytest.mark.parametrize("name, variable", [("pexels", "PEXELS_API_KEY"), ("pixabay", "PIXABAY_API_KEY")])
def test_a_rejected_key_names_its_variable(api, monkeypatch, name, variable):
    monkeypatch.setenv(variable, "not-a-key")
    with pytest.raises(ConfigError) as caught:
        provider(name).find(shot("coffee"), set())
    assert f"{variable} was rejected by {name.capitalize()}" in caught.value.message
    assert "not-a-key" not in caught.value.message


@pytest.mark.parametrize("name, variable", [("pexels", "PEXELS_API_KEY"), ("pixabay", "PIXABAY_API_KEY")])
def test_a_missing_key_names_its_variable(api, monkeypatch, name, variable):
    from creator_tools.engines.visuals import provider_class

    monkeypatch.setenv(variable, "")
    assert provider_class(name).available(VisualSettings()) is False
    with pytest.raises(ConfigError, match=variable):
        provider(name)


def test_keys_rotate_and_a_limited_key_rests(api, monkeypatch):
    monkeypatch.setenv("PEXELS_API_KEY", "pexels-key-1, pexels-key-2")
    pexels = provider("pexels")
    for keyword in ("coffee", "ocean", "forest", "snow"):
        pexels.find(shot(keyword), set())
    used = api.keys_used("pexels")
    assert used == ["pexels-key-1", "pexels-key-2"] * 2  # round-robin
    api.reset_counts()
    api.faults.rate_limited_keys["pexels-key-1"] = ALWAYS
    api.faults.retry_after = "30"
    started = time.monotonic()
    for keyword in ("fire", "night", "desert"):
        assert pexels.find(shot(keyword), set())
    assert time.monotonic() - started < 10  # no 30 s waits: the other key carried on
    assert api.keys_used("pexels").count("pexels-key-1") == 1  # asked once, then rested


def test_5xx_is_retried_then_the_provider_gives_up(api):
    api.faults.server_errors["pexels"] = 1
    assert provider("pexels").find(shot("coffee"), set())
    api.faults.server_errors["pexels"] = ALWAYS
    pexels = provider("pexels")
    asked = api.count("pexels")
    with pytest.raises(EngineError) as caught:
        pexels.find(shot("ocean"), set())
    assert "HTTP 503" in caught.value.message and not isinstance(caught.value, RateLimited)
    with pytest.raises(EngineError, match="a moment ago"):  # the next shot skips it at once, no waiting again
        pexels.find(shot("forest"), set())
    assert api.count("pexels") == asked + 3  # CS_VISUALS_TRIES for the first shot, none for the second


def test_a_dropped_download_resumes_with_a_range_request(api):
    api.faults.drop_downloads = 1
    asset = provider("pexels").find(shot("coffee"), set())
    assert nearest_keyword(colour(asset.path)) == "coffee"
    media = [r for r in api.requests if r["service"] == "media"]
    assert media[0]["status"] < 0 and media[1]["range"].startswith("bytes=") and media[1]["status"] == 206
    assert not list(Path(asset.path).parent.glob(".*.part"))


def test_a_corrupt_download_is_fetched_again_or_skipped(api):
    api.faults.corrupt_downloads = 1
    asset = provider("pixabay").find(shot("ocean"), set())
    assert nearest_keyword(colour(asset.path)) == "ocean"
    api.faults.corrupt_downloads = ALWAYS
    with pytest.raises(EngineError, match="could be downloaded"):
        provider("pixabay").find(shot("forest"), set())
    assert not list((Path(asset.path).parent).glob(".*.part"))


# --- generated images --------------------------------------------------------------------------------------


def image_requests(api) -> list[dict]:
    return [r for r in api.requests if r["service"] == "images"]


@pytest.mark.parametrize("model, asked", [("gpt-image-1", "1024x1536"), ("dall-e-3", "1024x1792")])
def test_images_fill_a_portrait_frame(api, model, asked):
    from PIL import Image

    asset = provider("images", image_model=model).find(shot("sunset"), set())
    assert asset.kind == "still" and asset.synthetic is True and asset.license == "generated"
    assert asset.author == model and asset.asset_id.startswith("images:")
    with Image.open(asset.path) as image:
        assert image.size == (1080, 1920)
    assert nearest_keyword(colour(asset.path)) == "sunset"
    assert len(image_requests(api)) == 1 and image_requests(api)[0]["key"] == "images-key"


def test_images_url_answers_and_an_unknown_model_falls_back_to_square(api):
    api.faults.image_answer = "url"
    api.faults.image_sizes = {"sd-strict": ["1024x1024"]}
    asset = provider("images", image_model="sd-strict").find(shot("flower", 1920, 1080), set())
    assert nearest_keyword(colour(asset.path)) == "flower"
    statuses = [r["status"] for r in image_requests(api)]
    assert statuses == [400, 200]  # 1344x768 refused (the error names `size`), then 1024x1024
    assert [r["path"] for r in api.requests if r["service"] == "media"]  # the url answer was downloaded


def test_images_need_a_key_and_are_never_in_the_default_chain(api, monkeypatch):
    from creator_tools.engines.visuals_images import ImagesProvider

    assert ImagesProvider.available(VisualSettings()) is False
    for name in ("CS_IMAGES_API_KEY", "CS_IMAGES_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.setenv(name, "")
    with pytest.raises(ConfigError) as caught:
        provider("images")
    assert "CS_IMAGES_API_KEY or OPENAI_API_KEY" in caught.value.message


def test_images_rejected_key_names_the_variable(api, monkeypatch):
    monkeypatch.setenv("CS_IMAGES_API_KEY", "wrong")
    with pytest.raises(ConfigError, match="CS_IMAGES_API_KEY was rejected"):
        provider("images").find(shot("snow"), set())


# --- one OpenAI-compatible configuration -------------------------------------------------------------------


def test_openai_config_treats_empty_variables_as_unset(monkeypatch):
    from creator_tools.engines.openai_config import openai_config

    monkeypatch.setenv("OPENAI_BASE_URL", "")
    monkeypatch.setenv("CS_IMAGES_BASE_URL", "")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    config = openai_config("images", prefix="CS_IMAGES")
    assert config.base_url is None and config.url == "https://api.openai.com/v1"
    assert config.api_key == "k" and config.key_variable == "OPENAI_API_KEY"
    monkeypatch.setenv("CS_IMAGES_BASE_URL", "http://gpu-box:8080/v1/")
    assert openai_config("images", prefix="CS_IMAGES").url == "http://gpu-box:8080/v1"
    monkeypatch.setenv("CS_LLM_RETRIES", "0")
    assert openai_config("llm").retries == 0 and openai_config("tts", retries=1).retries == 1


def test_an_empty_openai_base_url_means_unset_for_llm_and_tts(tmp_path):
    env = {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": ""}
    idea = run_cs("idea", "", "tea", "--engine", "openai", cwd=tmp_path, env=env)
    voice = run_cs("voice", [script_record(["Hello."])], "--engine", "openai", cwd=tmp_path, env=env)
    for run in (idea, voice):
        assert run.code == 1, run.stderr
        assert "needs OPENAI_API_KEY (or OPENAI_BASE_URL" in run.stderr and "Traceback" not in run.stderr


def test_a_search_in_the_scripts_language_falls_back_to_english_keywords(api):
    spanish = Shot(0.0, 3.0, "Mira el bosque.", "bosque", topic="una mañana tranquila", context="forest",
                   language="es")
    asset = provider("pexels").find(spanish, set())
    assert nearest_keyword(colour(asset.path)) == "forest"
    asked = [r["query"] for r in api.requests if r["service"] == "pexels" and "search" in r["path"]]
    assert asked[0]["query"] == "bosque" and asked[0]["locale"] == "es-ES"  # first in Spanish
    assert asked[-1]["query"] == "forest" and "locale" not in asked[-1]  # then in English
    provider("pixabay").find(spanish, set())
    first = next(r["query"] for r in api.requests if r["service"] == "pixabay")
    assert first["q"] == "bosque" and first["lang"] == "es"
