"""Generated pictures: one image per shot from an OpenAI-compatible `POST /images/generations` (OpenAI,
LocalAI, stable-diffusion.cpp's or ComfyUI's OpenAI-style servers), cropped to the frame.

Server and key: CS_IMAGES_BASE_URL else OPENAI_BASE_URL, CS_IMAGES_API_KEY else OPENAI_API_KEY (one
configuration with the LLM and TTS engines: engines/openai_config.py). Model: --image-model / CS_IMAGE_MODEL.
The size asked for is the closest the model accepts (dall-e-3 and gpt-image-1 have three each, dall-e-2 only
squares; another model gets the SDXL size nearest the frame, and 1024x1024 when it refuses that one).
The picture is a realistic image, so each shot says `synthetic: true` (YouTube's disclosure). A finished
picture is named by a hash of its prompt, model and size: a re-run makes no calls. Never in the default
order (`available` is False): generation costs money, so it is chosen by name.
"""

from __future__ import annotations

import base64
from pathlib import Path

from .. import artifacts, log
from ..core import config
from ..errors import EngineError
from .visuals import Asset, Provider, Shot, VisualSettings
from .visuals_http import KeyRing, Service, sha

DEFAULT_MODEL = "gpt-image-1"
MODEL_ENV = config.variable("CS_IMAGE_MODEL")
# What each model accepts, per orientation (OpenAI's images API reference).
SIZES = {
    "dall-e-3": {"square": "1024x1024", "landscape": "1792x1024", "portrait": "1024x1792"},
    "gpt-image": {"square": "1024x1024", "landscape": "1536x1024", "portrait": "1024x1536"},
    "dall-e-2": {"square": "1024x1024", "landscape": "1024x1024", "portrait": "1024x1024"},
}
# Other models (stable diffusion on a GPU box): the SDXL training sizes, about one megapixel each.
SDXL_SIZES = [(1024, 1024), (1152, 896), (896, 1152), (1216, 832), (832, 1216), (1344, 768), (768, 1344),
              (1536, 640), (640, 1536)]


def model_family(model: str) -> str | None:
    for family in SIZES:
        if model == family or model.startswith(family):
            return family
    return None


def size_for(model: str, width: int, height: int) -> str:
    """The size to ask MODEL for, closest to a WIDTH x HEIGHT frame."""
    family = model_family(model)
    orientation = "square" if width == height else "portrait" if height > width else "landscape"
    if family:
        return SIZES[family][orientation]
    w, h = min(SDXL_SIZES, key=lambda size: abs(size[0] / size[1] - width / height))
    return f"{w}x{h}"


def prompt_for(shot: Shot) -> str:
    """What to draw: the shot's own sentence first, the video's topic and the segment's visual as context."""
    parts = [f"A realistic photograph showing: {(shot.text.strip() or shot.query).rstrip('.!?;:, ')}."]
    if shot.topic:
        parts.append(f"Topic of the video: {shot.topic}.")
    if shot.context:
        parts.append(f"Scene: {shot.context}.")
    parts.append(f"{shot.orientation.capitalize()} composition, natural light, photographic detail. "
                 "No text, no letters, no captions, no logos, no watermark.")
    return " ".join(parts)


class ImagesProvider(Provider):
    name = "images"
    network = True

    @classmethod
    def available(cls, settings: VisualSettings) -> bool:
        return False  # chosen by name only: every picture is a paid call

    def __init__(self, settings: VisualSettings):
        super().__init__(settings)
        from .openai_config import openai_config

        self.config = openai_config("images", prefix="CS_IMAGES", retries=4, timeout=180.0)
        self.config.require_key("the images provider", "leave images out of --provider")
        self.model = settings.image_model or config.get(MODEL_ENV) or DEFAULT_MODEL
        keys = KeyRing(self.config.key_variable, self.config.api_key)
        self.service = Service("images", f"the images API at {self.config.where}", self.config.url, keys,
                               lambda key: ({"Authorization": f"Bearer {key}"}, {}), timeout=self.config.timeout)
        self.fallback_square = False  # set once the server refused our size and took 1024x1024

    def find(self, shot: Shot, avoid: set[str]) -> Asset | None:
        prompt = prompt_for(shot)
        asked = size_for(self.model, shot.width, shot.height)
        digest = sha(prompt, self.model, asked, shot.width, shot.height)  # the same name whatever the server took
        size = "1024x1024" if self.fallback_square else asked
        path = artifacts.out_dir() / "visuals" / "images" / f"{digest[:24]}.jpg"
        if not path.is_file():
            data = self._generate(prompt, size)
            self._fit(data, shot, path)
        return Asset(kind="still", path=str(path), provider=self.name, asset_id=f"images:{digest[:16]}",
                     url="", author=self.model, license="generated", synthetic=True,
                     extra={"prompt": prompt})

    def _generate(self, prompt: str, size: str) -> bytes:
        body = {"model": self.model, "prompt": prompt, "n": 1, "size": size}
        if model_family(self.model) in ("dall-e-2", "dall-e-3"):
            body["response_format"] = "b64_json"  # the picture in the answer: no second download
        response = self.service.post_json("/images/generations", body)
        if response.status == 400 and _names_size(response.text()) and size != "1024x1024":
            log.warn(f"{self.service.label} refused size {size} for {self.model}; asking for 1024x1024")
            self.fallback_square = True
            response = self.service.post_json("/images/generations", {**body, "size": "1024x1024"})
        if response.status == 400:
            raise EngineError(f"{self.service.label} refused the prompt ({_message(response)}); "
                              "this shot uses the next provider")
        answer = self.service.json_object(response)
        item = self.service.parsed(answer, _first_image)
        if item is None:
            raise EngineError(f"{self.service.label} answered without an image")
        if item.get("b64_json"):
            try:
                return base64.b64decode(item["b64_json"])
            except (ValueError, TypeError):
                raise EngineError(f"{self.service.label} sent an image that is not base64") from None
        if item.get("url"):
            # The fetcher refuses a `url` that is no https (or, for an http server, http) link: an answer's
            # "file:///home/me/private.jpg" is never read into the video.
            downloaded = self.service.download(item["url"], "still", ".png")
            try:
                return downloaded.read_bytes()
            finally:
                downloaded.unlink(missing_ok=True)  # the cropped JPEG is what is kept
        raise EngineError(f"{self.service.label} answered with neither b64_json nor url")

    def _fit(self, data: bytes, shot: Shot, path: Path) -> None:
        """Scale and centre-crop the picture to the frame; a JPEG written atomically."""
        import io

        from PIL import Image, ImageOps

        from ..media.stills import refuse_bombs

        refuse_bombs()  # a generated 13000x13000 picture is refused, not two lines of Python warning
        try:
            with Image.open(io.BytesIO(data)) as image:
                fitted = ImageOps.fit(image.convert("RGB"), (shot.width, shot.height), Image.Resampling.LANCZOS)
        except Exception as exc:  # Pillow raises many types for a broken image
            raise EngineError(f"{self.service.label} sent an image Pillow cannot read ({exc})") from None
        with artifacts.atomic_output(path) as temp:
            fitted.save(temp, "JPEG", quality=92)


def _first_image(answer: dict) -> dict | None:
    """The first item of an images answer's `data` (None when empty); TypeError when `data` is no list of
    objects (`"data": "nope"`)."""
    items = answer.get("data") or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise TypeError("data is not a list of objects")
    return items[0] if items else None


def _message(response) -> str:
    try:
        return str(response.json().get("error", {}).get("message") or response.text())[:200]
    except (EngineError, AttributeError, TypeError):
        return response.text()[:200]


def _names_size(text: str) -> bool:
    return "size" in text.lower()
