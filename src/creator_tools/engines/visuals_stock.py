"""Stock footage providers: Pexels (PEXELS_API_KEY) and Pixabay (PIXABAY_API_KEY), videos first, then photos.

Both ask for the shot's own search words, in the frame's orientation, 15 answers a page (a second page only
when every answer of the first was already used), and rank the answers: the frame's orientation first, then
clips at least as long as the shot (a shorter one would end on a frozen frame), then a rendition whose
short side covers the frame's, then the API's own order. The best is downloaded; the next ALTERNATIVES are
kept on the shot (not downloaded) for review and swaps (`fetch`). The
HTTP layer (visuals_http) caches answers for 24 h, keeps downloads, rotates comma-separated keys and turns
429 into RateLimited. Base URLs: CS_PEXELS_URL (https://api.pexels.com), CS_PIXABAY_URL (https://pixabay.com).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .. import log
from ..core import config
from ..errors import EngineError
from .visuals import Asset, Provider, Shot, VisualSettings
from .visuals_http import KeyRing, Response, Service, clip_duration, suffix_of

PER_PAGE = 15
PAGES = 2
DOWNLOAD_TRIES = 3  # assets tried per shot when downloads fail, before the provider gives up on the shot
ALTERNATIVES = 3


@dataclass
class Candidate:
    asset_id: str
    kind: str  # clip or still
    link: str  # the file to download
    page: str  # the asset's page, for credits
    author: str
    duration: float | None = None
    portrait: bool | None = None  # the file's orientation where the API says it
    side: int = 0  # the file's short side in pixels (0: not said)
    preview: str = ""  # a small picture of it, for review

    def alternative(self, provider: str, license: str) -> dict:
        return {"provider": provider, "asset_id": self.asset_id, "kind": self.kind, "url": self.page,
                "link": self.link, "preview": self.preview, "author": self.author, "license": license,
                "duration_s": self.duration}

    def __post_init__(self):
        # What an API says is only trusted as far as its shape: a link must be a string (the fetcher then
        # checks its scheme), a duration a number (else ranking compares a string with seconds).
        if not isinstance(self.link, str):
            raise TypeError("link is not a string")
        if isinstance(self.duration, bool) or not isinstance(self.duration, (int, float)):
            self.duration = None


class StockProvider(Provider):
    """What Pexels and Pixabay share: the key, the service, the search-then-download loop."""

    network = True
    label = ""
    key_env = ""
    url_env = ""
    default_url = ""
    license = ""
    signup = ""  # where a key comes from

    @classmethod
    def available(cls, settings: VisualSettings) -> bool:
        return config.is_set(cls.key_env)

    def __init__(self, settings: VisualSettings):
        super().__init__(settings)
        from ..errors import ConfigError

        keys = KeyRing(self.key_env, config.get(self.key_env))
        if not keys.keys:
            raise ConfigError(f"the {self.name} provider needs {self.key_env} (a free key: {self.signup}); "
                              f"set it, or leave {self.name} out of --provider")
        from .openai_config import env, http_url

        base = http_url(self.url_env, env(self.url_env)) if env(self.url_env) else self.default_url
        self.service = Service(self.name, self.label, base, keys, self.auth, rejected=self.rejected)

    @abstractmethod
    def auth(self, key: str) -> tuple[dict, dict]:
        """(headers, query parameters) that carry KEY the way this API asks for it."""

    def rejected(self, response: Response) -> bool:
        return response.status in (401, 403)

    def find(self, shot: Shot, avoid: set[str]) -> Asset | None:
        if not shot.query.strip():
            return None
        asked = [shot]
        if not shot.language.lower().startswith("en") and (shot.context or shot.topic).strip():
            # Stock libraries are tagged mostly in English: a search in the script's language that finds
            # nothing is asked again with the segment's keywords (or the topic) in English.
            from dataclasses import replace

            asked.append(replace(shot, query=(shot.context or shot.topic).strip(), language="en"))
        for attempt in asked:
            for search in range(2):  # 0: videos, 1: photos
                fresh = self._fresh(attempt, search, avoid)
                if fresh:
                    return self._first_download(shot, fresh)
        return None

    def _fresh(self, shot: Shot, search: int, avoid: set[str]) -> list[Candidate]:
        """The unused candidates of one search, best first, from its first page or (all used) the second."""
        for page in range(1, PAGES + 1):
            candidates, more = self.search(shot, search, page)
            fresh = [c for c in candidates if c and c.asset_id not in avoid]
            if fresh or not more:
                return sorted(fresh, key=lambda c: _rank(c, shot))
        return []

    @abstractmethod
    def search(self, shot: Shot, search: int, page: int) -> tuple[list[Candidate], bool]:
        """(candidates, more pages exist) of search 0 (videos) or 1 (photos) for SHOT's query."""

    def _first_download(self, shot: Shot, candidates: list[Candidate]) -> Asset | None:
        failure: EngineError | None = None
        for number, candidate in enumerate(candidates[:DOWNLOAD_TRIES]):
            try:
                asset = self._download(candidate.link, candidate.kind, candidate.asset_id, candidate.page,
                                       candidate.author, candidate.duration)
            except EngineError as exc:
                log.warn(f"{exc.message}")
                failure = exc
                continue
            asset.alternatives = [c.alternative(self.name, self.license)
                                  for c in candidates[number + 1:number + 1 + ALTERNATIVES]]
            return asset
        reason = failure.message if failure else "no candidate"
        raise EngineError(f"{self.label}: no asset for \"{shot.query}\" could be downloaded ({reason})", retryable=True)

    def _download(self, link: str, kind: str, asset_id: str, page: str, author: str, duration: float | None) -> Asset:
        path = self.service.download(link, kind, suffix_of(link, ".mp4" if kind == "clip" else ".jpg"))
        duration = (clip_duration(path) or duration) if kind == "clip" else None
        return Asset(kind=kind, path=str(path), provider=self.name, asset_id=asset_id, url=page, author=author,
                     license=self.license, synthetic=False, duration_s=duration)

    def fetch(self, choice: dict, shot: Shot) -> Asset:
        """The alternative CHOICE (copied from a shot's `alternatives` by cs-review), downloaded."""
        link = str(choice.get("link") or "")
        if choice.get("kind") in ("clip", "still") and self._kept(link):
            return Asset(kind=choice["kind"], path=link, provider=self.name, asset_id=str(choice["asset_id"]),
                         url=str(choice.get("url") or ""), author=str(choice.get("author") or ""), license=self.license,
                         duration_s=choice.get("duration_s") if choice["kind"] == "clip" else None)
        if choice.get("kind") not in ("clip", "still") or not link.startswith(("http://", "https://")):
            from ..errors import BadInput

            raise BadInput(f"replace {choice.get('asset_id')!r} has no downloadable link; copy one of the shot's "
                           "alternatives as it is")
        return self._download(choice["link"], choice["kind"], str(choice["asset_id"]), str(choice.get("url") or ""),
                              str(choice.get("author") or ""), choice.get("duration_s"))

    def _kept(self, link: str) -> Path | None:
        """LINK when it is a file this provider downloaded before (a swapped-out asset put aside)."""
        from .. import artifacts

        path = Path(link)
        folder = (artifacts.out_dir() / "visuals" / self.name).resolve()
        return path if path.is_file() and folder in path.resolve().parents else None


def _rank(candidate: Candidate, shot: Shot) -> tuple:
    """Best first: the frame's orientation, then long enough for the shot, then a file whose short side covers
    the frame's (sorted() keeps the API's own order after that)."""
    wrong_way = candidate.portrait is not None and shot.orientation != "square" and \
        candidate.portrait != (shot.orientation == "portrait")
    too_short = candidate.kind == "clip" and (candidate.duration or 0) < shot.duration
    too_small = 0 < candidate.side < min(shot.width, shot.height)
    return (wrong_way, too_short, too_small)


def _side(item: dict, width: str = "width", height: str = "height") -> int:
    return int(min(item.get(width) or 0, item.get(height) or 0))


def pick_rendition(files: list[dict], shot: Shot) -> dict | None:
    """The smallest file whose short side covers the frame's short side, else the largest there is."""
    usable = [f for f in files if f.get("link") or f.get("url")]
    if not usable:
        return None
    need = min(shot.width, shot.height)
    side = lambda f: min(f.get("width") or 0, f.get("height") or 0)  # noqa: E731
    covering = [f for f in usable if side(f) >= need]
    return min(covering, key=side) if covering else max(usable, key=side)


def _portrait(item: dict, width: str = "width", height: str = "height") -> bool | None:
    w, h = item.get(width), item.get(height)
    return h > w if w and h and w != h else None


class PexelsProvider(StockProvider):
    """Pexels: GET /videos/search, then GET /v1/search, `Authorization: KEY`."""

    name = "pexels"
    label = "Pexels"
    key_env = "PEXELS_API_KEY"
    url_env = "CS_PEXELS_URL"
    default_url = "https://api.pexels.com"
    signup = "https://www.pexels.com/api/"
    license = "Pexels License"

    def auth(self, key: str) -> tuple[dict, dict]:
        return {"Authorization": key}, {}

    def search(self, shot: Shot, search: int, page: int) -> tuple[list[Candidate], bool]:
        params = {"query": shot.query, "orientation": shot.orientation, "per_page": PER_PAGE, "page": page}
        if not shot.language.lower().startswith("en"):
            params["locale"] = pexels_locale(shot.language)
        if search == 0:
            # Minimum size: Full HD for a 1080p frame, HD below (smaller files, cs-render scales anyway).
            params["size"] = "medium" if max(shot.width, shot.height) >= 1920 else "small"
            return self.service.get_json("/videos/search", params, lambda answer: (
                [self._video(video, shot) for video in _list(answer, "videos")], bool(answer.get("next_page"))))
        return self.service.get_json("/v1/search", params, lambda answer: (
            [self._photo(photo, shot) for photo in _list(answer, "photos")], bool(answer.get("next_page"))))

    def _video(self, video: dict, shot: Shot) -> Candidate | None:
        files = [f for f in video.get("video_files") or [] if (f.get("file_type") or "video/mp4") == "video/mp4"]
        chosen = pick_rendition(files, shot)
        if not chosen or "id" not in video:
            return None
        return Candidate(f"pexels:video:{video['id']}", "clip", chosen["link"], video.get("url") or "",
                         (video.get("user") or {}).get("name") or "", video.get("duration"), _portrait(chosen),
                         _side(chosen), video.get("image") or "")

    def _photo(self, photo: dict, shot: Shot) -> Candidate | None:
        src = photo.get("src") or {}
        wanted = {"portrait": "portrait", "landscape": "large2x"}.get(shot.orientation, "large2x")
        link = src.get(wanted) or src.get("large2x") or src.get("original")
        if not link or "id" not in photo:
            return None
        return Candidate(f"pexels:photo:{photo['id']}", "still", link, photo.get("url") or "",
                         photo.get("photographer") or "", None, None, 0,
                         src.get("medium") or src.get("tiny") or link)


class PixabayProvider(StockProvider):
    """Pixabay: GET /api/videos/, then GET /api/?image_type=photo, the key as the `key` parameter."""

    name = "pixabay"
    label = "Pixabay"
    key_env = "PIXABAY_API_KEY"
    url_env = "CS_PIXABAY_URL"
    default_url = "https://pixabay.com"
    signup = "https://pixabay.com/api/docs/"
    license = "Pixabay Content License"

    def auth(self, key: str) -> tuple[dict, dict]:
        return {}, {"key": key}

    def rejected(self, response: Response) -> bool:
        # Pixabay says a bad key with 400 "[ERROR 400] Invalid or missing API key".
        return response.status in (401, 403) or (response.status == 400 and "api key" in response.text().lower())

    def search(self, shot: Shot, search: int, page: int) -> tuple[list[Candidate], bool]:
        params = {"q": _clip_query(shot.query), "per_page": PER_PAGE, "page": page, "safesearch": "true"}
        if not shot.language.lower().startswith("en"):
            params["lang"] = shot.language.split("-")[0].lower()
        more = lambda answer: page * PER_PAGE < int(answer.get("totalHits") or 0)  # noqa: E731
        if search == 0:  # the video search has no orientation filter: ranking prefers the frame's
            return self.service.get_json("/api/videos/", params, lambda answer: (
                [self._video(hit, shot) for hit in _list(answer, "hits")], more(answer)))
        orientation = {"portrait": "vertical", "landscape": "horizontal"}.get(shot.orientation, "all")
        return self.service.get_json("/api/", {**params, "image_type": "photo", "orientation": orientation},
                                     lambda answer: ([self._image(hit) for hit in _list(answer, "hits")], more(answer)))

    def _video(self, hit: dict, shot: Shot) -> Candidate | None:
        renditions = [{**value, "link": value.get("url")} for value in (hit.get("videos") or {}).values()
                      if isinstance(value, dict)]
        chosen = pick_rendition(renditions, shot)
        if not chosen or "id" not in hit:
            return None
        tiny = (hit.get("videos") or {}).get("tiny") or {}
        return Candidate(f"pixabay:video:{hit['id']}", "clip", chosen["link"], hit.get("pageURL") or "",
                         hit.get("user") or "", hit.get("duration"), _portrait(chosen), _side(chosen),
                         str(tiny.get("thumbnail") or ""))

    def _image(self, hit: dict) -> Candidate | None:
        link = hit.get("largeImageURL") or hit.get("webformatURL")
        if not link or "id" not in hit:
            return None
        return Candidate(f"pixabay:photo:{hit['id']}", "still", link, hit.get("pageURL") or "", hit.get("user") or "",
                         None, _portrait(hit, "imageWidth", "imageHeight"), _side(hit, "imageWidth", "imageHeight"),
                         hit.get("previewURL") or hit.get("webformatURL") or link)


def _list(answer: dict, key: str) -> list[dict]:
    """ANSWER[KEY], a list of objects (missing or null: none); TypeError (a shape error) for anything else."""
    items = answer.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise TypeError(f"{key} is not a list of objects")
    return items


# Pexels' search locales are language-REGION; a bare language gets its usual region.
_PEXELS_REGIONS = {"pt": "pt-BR", "es": "es-ES", "ca": "ca-ES", "de": "de-DE", "it": "it-IT", "fr": "fr-FR",
                   "sv": "sv-SE", "id": "id-ID", "pl": "pl-PL", "ja": "ja-JP", "zh": "zh-CN", "ko": "ko-KR",
                   "th": "th-TH", "nl": "nl-NL", "hu": "hu-HU", "vi": "vi-VN", "cs": "cs-CZ", "da": "da-DK",
                   "fi": "fi-FI", "uk": "uk-UA", "el": "el-GR", "ro": "ro-RO", "nb": "nb-NO", "no": "nb-NO",
                   "sk": "sk-SK", "tr": "tr-TR", "ru": "ru-RU", "en": "en-US"}


def pexels_locale(language: str) -> str:
    """'es' -> 'es-ES', 'pt-BR' stays; a language Pexels does not list is passed as it is."""
    return language if "-" in language else _PEXELS_REGIONS.get(language.lower(), language)


def _clip_query(query: str) -> str:
    """Pixabay takes at most 100 characters: whole words up to that."""
    if len(query) <= 100:
        return query
    return query[:101].rsplit(" ", 1)[0]
