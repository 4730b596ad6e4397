"""Visual providers for cs-visuals: one small interface, a registry of import paths, loaded only when chosen.

A provider answers one shot (a sentence's time span and its search words) with one asset: a stock clip, a
still, a generated image or a card, downloaded or made under $CS_OUT_DIR. cs-visuals tries the providers of
`--provider A,B,...` (or $CS_VISUALS) in order per shot; the first that finds something wins. Built in:
`library` (a local folder), `pexels`, `pixabay` (stock APIs), `images` (an OpenAI-compatible
images/generations endpoint) and `cards` (generated offline, always finds something). Other packages add
providers through the `creator_tools.visuals` entry point group, the same way as LLM and TTS engines.

How a provider reports trouble (cs-visuals turns it into the right record outcome):
- `None` from `find`: nothing matched this shot (the next provider is tried; cards fill what nobody found);
- `RateLimited`: the provider is rate-limited after honouring Retry-After (the next provider is tried; when
  every network provider of the chain was rate-limited for a shot, the record is deferred, exit 4);
- `ConfigError`: a missing or rejected key, naming the variable (stops the run once, even with -k);
- `EngineError`: 5xx, dropped download or corrupt file after retries: this provider is skipped for the shot.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import engines as registry
from ..core import config
from ..errors import EngineError

PROVIDERS_ENV = config.variable("CS_VISUALS")


@dataclass
class Shot:
    """What one shot must show: its time span, the words spoken during it and the search words drawn from
    them (`query`), plus context (`topic`, the segment's `visual`) and the frame it fills."""

    start: float
    end: float
    text: str
    query: str
    topic: str = ""
    context: str = ""  # the segment's `visual` keywords: context only, never the query itself
    width: int = 1080
    height: int = 1920
    record_id: str = ""  # the video's record id: names the files a provider makes (artifacts.artifact_path)
    index: int = 0  # the shot's place in the video (cards vary their colours by it)
    heads: list[str] = field(default_factory=list)  # the sentence's head nouns, best first (a card's emoji)
    language: str = "en"  # script.language: stock APIs search in it (Pexels locale, Pixabay lang)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def orientation(self) -> str:
        """What to ask stock APIs for: portrait, landscape or square (APIs name them so)."""
        if self.width == self.height:
            return "square"
        return "portrait" if self.height > self.width else "landscape"


@dataclass
class Asset:
    """What a provider found for a shot: the record's shot keys other than start/end/text/query."""

    kind: str  # clip, still or card
    path: str  # the local (or s3://) file to show
    provider: str
    asset_id: str  # stable per provider: "pexels:12345"; the key of "never the same asset twice"
    url: str = ""  # the asset's page, for credits
    author: str = ""
    license: str = ""
    synthetic: bool = False  # a generated realistic image (YouTube's altered or synthetic content disclosure)
    duration_s: float | None = None  # clips: their length, so cs-render loops or follows short ones
    extra: dict[str, Any] = field(default_factory=dict)  # provider-specific keys kept on the shot
    # The next best candidates, not downloaded: {provider, asset_id, kind, url, link, preview, author,
    # license, duration_s} each; cs-review may copy one into the shot's `replace`.
    alternatives: list[dict[str, Any]] = field(default_factory=list)

    def shot_keys(self) -> dict[str, Any]:
        keys = asdict(self)
        extra = keys.pop("extra")
        if keys["duration_s"] is None:
            keys.pop("duration_s")
        if not keys["alternatives"]:
            keys.pop("alternatives")
        return {**keys, **extra}

    def as_alternative(self) -> dict[str, Any]:
        """This asset as another shot's alternative (when a swap puts it aside)."""
        return {"provider": self.provider, "asset_id": self.asset_id, "kind": self.kind, "url": self.url,
                "link": self.path, "preview": self.path if self.kind == "still" else "", "author": self.author,
                "license": self.license, "duration_s": self.duration_s}


class RateLimited(EngineError):
    """The provider refused for now (HTTP 429 after honouring Retry-After); another provider may answer."""

    retryable = True


@dataclass
class VisualSettings:
    """What every provider may need; each reads only its own part."""

    library: str | None = None  # --library / CS_LIBRARY
    image_model: str | None = None  # --image-model / CS_IMAGE_MODEL
    width: int = 1080
    height: int = 1920


class Provider(ABC):
    """One source of pictures. `find` must be safe to call from several threads (cs-visuals -j N)."""

    name: str = ""
    network: bool = False  # calls a remote API (counts toward "every network provider was rate-limited")
    last_resort: bool = False  # always finds something (cards): not asked for a shot every network provider
    # of the chain refused with RateLimited, so that shot is deferred instead of filled

    def __init__(self, settings: VisualSettings):
        self.settings = settings

    @classmethod
    def available(cls, settings: VisualSettings) -> bool:
        """Whether the default chain includes this provider (a library given, a key set)."""
        return True

    @abstractmethod
    def find(self, shot: Shot, avoid: set[str]) -> Asset | None:
        """An asset for SHOT whose `asset_id` is not in AVOID (when the provider has any other), or None."""

    def fetch(self, choice: dict[str, Any], shot: Shot) -> Asset:
        """The asset CHOICE names (one of a shot's `alternatives`, chosen in review) for SHOT."""
        from ..errors import BadInput

        raise BadInput(f"the {self.name} provider keeps no alternatives to swap in; set the shot's replace to "
                       '{"kind": "card"} or to one of its alternatives')

    def close(self) -> None:
        """Release connections."""


PROVIDERS: dict[str, str] = {
    "library": "creator_tools.engines.visuals_library:LibraryProvider",
    "pexels": "creator_tools.engines.visuals_stock:PexelsProvider",
    "pixabay": "creator_tools.engines.visuals_stock:PixabayProvider",
    "images": "creator_tools.engines.visuals_images:ImagesProvider",
    "cards": "creator_tools.engines.visuals_cards:CardsProvider",
}
DEFAULT_ORDER = ("library", "pexels", "pixabay", "cards")  # each kept only when `available`


def provider_names() -> list[str]:
    return registry.names("creator_tools.visuals", PROVIDERS)


def provider_class(name: str) -> type[Provider]:
    return registry.load("creator_tools.visuals", PROVIDERS, name, f"--provider or {PROVIDERS_ENV}")
