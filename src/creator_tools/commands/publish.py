"""cs-publish: upload finished videos to YouTube with thumbnail, captions, playlist and schedule."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from typing import Any

import click

from .. import log, pipe
from ..core import config
from ..errors import BadInput, ConfigError, UsageError

# The YouTube modules and the ffmpeg helpers (subprocess, sqlite3, urllib, pathlib) load when a record is
# published, so --help stays quick; the option default is copied here.
DEFAULT_BUDGET = 10_000  # youtube.quota.DEFAULT_BUDGET (tests/test_contract.py checks they agree)
DEFAULT_UPLOADS = 100  # youtube.quota.DEFAULT_UPLOADS


REVIEW_ENV = config.variable("CS_REQUIRE_REVIEW")  # 0: public, unlisted and scheduled uploads need no review (--no-review)


def review_gate(record: dict, require_review: bool, scheduling: bool) -> None:
    """The last gate, before any quota is spent: a record with a block finding (the content checks, run here
    again) goes up only with review.status approved (a person saw the finding); a public, unlisted or
    scheduled upload needs that approval too unless REQUIRE_REVIEW is off. Private drafts need no review."""
    from .. import checks

    review = record.get("review") if isinstance(record.get("review"), dict) else {}
    status = review.get("status")
    if status == "approved":
        return
    blocks = checks.blocking(checks.run(record))
    if blocks:
        raise BadInput(f"not uploaded: {checks.describe(blocks)} (block findings) and no person approved it "
                       f"(review.status is {status or 'missing'}); run cs-review and approve or fix it")
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    privacy = meta.get("privacy")
    scheduled = bool(meta.get("publish_at")) or scheduling
    if require_review and (privacy in ("public", "unlisted") or scheduled):
        kind = "a scheduled" if scheduled else f"a {privacy}"
        raise BadInput(f"not uploaded: {kind} upload needs review.status approved (it is {status or 'missing'}); "
                       f"run cs-review first, or pass --no-review ({REVIEW_ENV}=0) to publish unreviewed")


IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif"}


def parse_size(text: str) -> int:
    """'16M', '256K', '1G' or a byte count; a multiple of 256 KiB, as the API requires for chunks."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise UsageError(f"--chunk-size {text!r} is not a size like 16M or 262144")
    from ..youtube.upload import CHUNK_UNIT  # loads the API client helpers: not needed for --help

    size = int(match[1]) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match[2].upper()]
    if size <= 0 or size % CHUNK_UNIT:
        raise UsageError(f"--chunk-size {text} must be a positive multiple of 256K (YouTube's chunk unit)")
    return size


class Publish(pipe.Stage):
    name = "publish"
    key = "youtube"
    needs = {"video": "cs-render", "meta": "cs-meta"}
    # Optional keys, checked against the contract before any quota is spent: thumb and captions are uploaded
    # too when present (captions.language names the track); the concept and the voice's length go into the
    # ledger for cs-stats, after the upload, where a wrong type used to fail the record with the video sent.
    reads = {"thumb": ("path",), "captions": ("srt", "language"), "voice": ("duration_s",),
             "topic": None, "title": None, "hook": None, "format": None, "review": ("status",), "translations": None,
             "script": ("language",)}

    def __init__(self, token: str | None, endpoint: str | None, budget: int, chunk_size: int, check: bool,
                 schedule_every: float | None, uploads_per_day: int = DEFAULT_UPLOADS, db: str | None = None,
                 require_review: bool = True):
        self.require_review = require_review
        self.token_option = token
        self.db = db
        self.uploads_per_day = uploads_per_day
        self.endpoint = endpoint
        self.budget = budget
        self.chunk_size = chunk_size
        self.check_only = check
        self.schedule_every = schedule_every
        self._publisher: Any = None
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        return {"schedule_every_h": self.schedule_every} if self.schedule_every else {}

    def inputs(self, record: dict) -> Any:
        inputs = {**super().inputs(record), "thumb": (record.get("thumb") or {}).get("path"),
                  "captions": (record.get("captions") or {}).get("srt")}
        if record.get("translations"):  # new translations: localizations and caption tracks to add
            inputs["translations"] = record["translations"]
        return inputs

    def publisher(self) -> Any:
        with self._lock:
            if self._publisher is None:
                from ..youtube import auth as yt_auth
                from ..youtube.publisher import Publisher

                token = yt_auth.load_token(self.token_option)
                self._publisher = Publisher(token, self.endpoint, self.budget, self.chunk_size, self.schedule_every,
                                            self.uploads_per_day, self.db)
            return self._publisher

    def _local_checks(self, record: dict) -> str:
        """Checks that need no network, before any quota is spent: meta shape, the video file is real media
        with a video stream, the caption file is there, the thumbnail is a JPEG or PNG YouTube takes."""
        from .. import artifacts
        from ..media import ffmpeg
        from ..youtube import metadata
        from ..youtube.publisher import check_thumbnail

        metadata.validate(record["meta"], scheduled=False)
        path = str((record["video"] or {}).get("path") or "")
        if not path:
            raise BadInput("video.path is empty; run cs-render again")
        if not artifacts.exists(path):
            raise BadInput(f"video.path: {path}: no such file; run cs-render again or fix video.path")
        try:  # an object is probed through a signed URL, by range requests: no download
            info = ffmpeg.probe(artifacts.media_locator(path))
        except BadInput:
            raise BadInput(f"video.path: {path}: not a readable video; run cs-render again") from None
        if ffmpeg.stream(info, "video") is None:
            raise BadInput(f"video.path: {path}: has no video stream; run cs-render again")
        # ffprobe reads a still image (a PNG renamed .mp4) as one video stream: YouTube would reject it
        # after the upload spent its quota, so only a container with a running time counts as a video.
        container = str((info.get("format") or {}).get("format_name") or "")
        seconds = float((info.get("format") or {}).get("duration") or 0)
        if container in IMAGE_FORMATS or container.endswith("_pipe") or seconds <= 0:
            raise BadInput(f"video.path: {path}: is a still image ({container}), not a video, whatever its name "
                           "says; run cs-render again")
        captions = record.get("captions") or {}
        srt = captions.get("srt")
        if "srt" in captions and not (srt or "").strip():  # "" would publish without captions, silently
            raise BadInput('captions.srt is empty; run cs-caption again (or leave the "captions" key out to '
                           "publish without captions)")
        if srt and not os.path.isfile(srt):
            raise BadInput(f"captions.srt: {srt}: no such caption file; run cs-caption again")
        thumb = (record.get("thumb") or {}).get("path")
        if thumb:
            check_thumbnail(thumb)
        translations = record.get("translations") or {}
        if translations and not (record["meta"].get("language") or (record.get("script") or {}).get("language")):
            raise BadInput("translations need the video's own language (YouTube refuses localizations without a "
                           "defaultLanguage); set meta.language (cs-meta --language) or script.language")
        for language, entry in translations.items():
            if not metadata.LANGUAGE.match(str(language)) or not isinstance(entry, dict):
                raise BadInput(f"translations.{language}: not a language tag with {{title, description, ...}}; "
                               "re-run cs-translate --force")
            localized = {**record["meta"], "title": entry.get("title"), "description": entry.get("description") or ""}
            problems = [p for p in metadata.violations(localized) if p.startswith(("title", "description"))]
            if problems:
                raise BadInput(f"translations.{language}.{problems[0]}; re-run cs-translate --force or fix it")
            if entry.get("srt") and not os.path.isfile(entry["srt"]):
                raise BadInput(f"translations.{language}.srt: {entry['srt']}: no such caption file; "
                               "re-run cs-translate --force")
        return path

    def process(self, record: dict) -> dict:
        from .. import artifacts

        review = record.get("review") if isinstance(record.get("review"), dict) else {}
        if review.get("status") == "rejected":
            return record  # a person said no: passed on, not uploaded, not an error
        review_gate(record, self.require_review, bool(self.schedule_every))

        # the small s3:// files are fetched once into the local cache; the video is read from the store in
        # chunks as it uploads. The record keeps its URIs.
        local = artifacts.with_local_files(record, "thumb.path", "captions.srt")
        if isinstance(local.get("translations"), dict):
            local["translations"] = {k: artifacts.with_local_files({"t": v}, "t.srt")["t"] if isinstance(v, dict) else v
                                     for k, v in local["translations"].items()}
        self._local_checks(local)
        if self.check_only:
            self.preflight(local)
            return record
        return {**record, "youtube": self.publisher().publish(local)}

    def preflight(self, record: dict) -> dict:
        """--check: everything publishing needs, without uploading; the record passes through unchanged."""
        from .. import artifacts
        from ..youtube import auth as yt_auth
        from ..youtube import client, metadata

        pub = self.publisher()
        client.refresh(pub.token)
        scopes = pub.token.scopes()
        if not scopes & {yt_auth.SCOPE_UPLOAD, yt_auth.SCOPE_YOUTUBE, yt_auth.SCOPE_FORCE_SSL}:
            raise ConfigError(f"the token {pub.token.path} lacks the YouTube upload scope; {yt_auth.REAUTH}")
        path = str(record["video"]["path"])
        size, sha = artifacts.size_and_sha256(path)
        row = pub.uploads().get(sha)
        wanted = pub.wanted(record)
        if not (row and row.get("video_id")):
            metadata.validate(record["meta"])
        from ..youtube.quota import describe

        cost = pub.cost(row, wanted)
        problem = pub.quota.short(cost)
        if problem:
            from ..errors import QuotaDeferred

            raise QuotaDeferred(problem)
        state = f"already uploaded as {row['video_id']}" if row and row.get("video_id") else "ready to publish"
        left = f"{pub.quota.left('units')} quota units and {pub.quota.left('uploads')} uploads"
        log.info(f"record {record.get('id')}: {state}: {path} ({size} bytes), needs about "
                 f"{describe(cost)}; {left} left today")
        return record

    def plan(self, record: dict) -> str:
        """The requests --dry-run would send, built by the real client without credentials."""
        from pathlib import Path

        from googleapiclient.http import MediaFileUpload

        from .. import artifacts
        from ..youtube import client, metadata
        from ..youtube.publisher import MIMETYPES, Publisher, check_thumbnail
        from ..youtube.upload import media_of

        record = artifacts.with_local_files(record, "thumb.path", "captions.srt")
        self._local_checks(record)  # a missing or non-video file is named here, not by the client library
        service = client.build_service("youtube", "v3", self.endpoint)
        meta = dict(record["meta"])
        metadata.validate(meta, scheduled=False)
        body = metadata.video_body(meta)
        path = str(record["video"]["path"])
        kind = MIMETYPES.get(Path(path).suffix.lower(), "application/octet-stream")
        with media_of(path, kind, self.chunk_size) as media:
            insert = service.videos().insert(part="snippet,status", body=body, media_body=media, notifySubscribers=True)
            lines = [f"POST {insert.uri} {json.dumps(body, ensure_ascii=False)}",
                     f"PUT <session uri> {media.size()} bytes in chunks of {self.chunk_size}"]
        wanted = Publisher.wanted(record)
        if wanted["thumbnail"]:
            kind = check_thumbnail(wanted["thumbnail"])
            thumb = service.thumbnails().set(videoId="VIDEO_ID", media_body=MediaFileUpload(wanted["thumbnail"], mimetype=kind))
            lines.append(f"POST {thumb.uri} ({os.path.getsize(wanted['thumbnail'])} bytes {kind})")
        if wanted["captions"]:
            cap = service.captions().insert(part="snippet", body={"snippet": {"videoId": "VIDEO_ID"}},
                                            media_body=MediaFileUpload(wanted["captions"], mimetype="application/octet-stream"))
            lines.append(f"POST {cap.uri} (multipart: snippet + {wanted['captions']})")
        if wanted["playlist"]:
            found = service.playlists().list(part="snippet", mine=True, maxResults=50)
            add = service.playlistItems().insert(part="snippet", body={})
            lines.append(f"GET {found.uri} (find playlist {wanted['playlist']!r}; POST playlists if missing)")
            lines.append(f"POST {add.uri}")
        return "would send:\n  " + "\n  ".join(lines)

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.token.save_if_refreshed()


@click.group(cls=pipe.Group, name="cs-publish", invoke_without_command=True, context_settings=pipe.CONTEXT_SETTINGS)
@click.option("--token", metavar="FILE", help="Authorized-user token file (default $CS_YOUTUBE_TOKEN, else "
              "$XDG_CONFIG_HOME/creator-tools/youtube-token.json).")
@click.option("--api-endpoint", metavar="URL", help="Send every call, uploads included, to URL "
              "(default $CS_YOUTUBE_ENDPOINT, else Google).")
@click.option("--chunk-size", default="16M", show_default=True, metavar="SIZE",
              help="Upload chunk size, a multiple of 256K.")
@click.option("--quota", "budget", type=click.IntRange(1), default=DEFAULT_BUDGET, show_default=True,
              metavar="UNITS", help="Daily quota units for all calls but uploads (Pacific-time day); records that "
              "would exceed it are deferred.")
@click.option("--uploads-per-day", type=click.IntRange(1), default=DEFAULT_UPLOADS, show_default=True, metavar="N",
              help="Daily videos.insert calls (YouTube's own bucket for uploads); more records are deferred.")
@click.option("--db", envvar=config.variable("CS_DB"), metavar="URL", help="Upload and quota ledger: a SQLite file, or "
              "postgresql://user@host/db shared by publishers on many machines [env CS_DB; default "
              "$XDG_STATE_HOME/creator-tools/youtube.sqlite].")
@click.option("--check", is_flag=True, help="Preflight only: token, file, meta, thumbnail, quota; upload nothing.")
@click.option("--schedule-every", type=pipe.FiniteRange(min=1, max=24 * 366), metavar="HOURS",
              help="Give records without meta.publish_at the next free slot, HOURS after the last scheduled one.")
@click.option("--no-review", is_flag=True, help="Public, unlisted and scheduled uploads without review.status "
              f"approved (env {REVIEW_ENV}=0); a record with a block finding still needs an approval.")
@pipe.common_options
@click.pass_context
def cli(ctx: click.Context, opts: pipe.PipeOptions, token: str | None, api_endpoint: str | None, chunk_size: str,
        budget: int, uploads_per_day: int, db: str | None, check: bool, schedule_every: float | None,
        no_review: bool) -> None:
    """Upload each record's video to YouTube with its thumbnail, captions, playlist and schedule.

    \b
    Reads:  video (cs-render), meta (cs-meta), review (cs-review); when present, thumb (cs-thumb), captions.srt and
            captions.language (cs-caption), and topic, title, hook, format, voice.duration_s (kept in
            the ledger for cs-stats). A key of the wrong type fails its record before any upload.
            translations (cs-translate): sent as localizations, one caption track per language.
    Adds:   youtube {video_id, url, privacy, publish_at, thumbnail_set, caption_id, playlist_item_id,
            captions: {LANG: id}, localizations: [LANG]}. snippet.defaultLanguage and
            defaultAudioLanguage are meta.language (else script.language).

    \b
    Uploads are resumable and crash-safe: the session is saved in a ledger (--db) before the first
    byte, so a re-run after a kill continues from the server's committed offset; a file already on
    the channel (same sha256) is never uploaded again. Publishers on many machines share one
    postgresql:// ledger: each file is claimed before upload and the quota check-and-spend is locked. Quota is counted per Pacific-time day in YouTube's buckets (uploads: --uploads-per-day;
    everything else: --quota units); records that would exceed either, or that meet a quota or rate
    limit, are deferred (exit 4), the message naming the bucket, and the next run picks them up.

    \b
    The gate, before any quota is spent: the content checks run again, and a record with a block
    finding is uploaded only with review.status approved; public, unlisted and scheduled uploads need
    that approval too (--no-review to opt out); private drafts do not. review.status rejected: the
    record passes through, not uploaded, not an error.

    \b
    Set-up, once, on a machine with a browser (see docs/youtube.md for a headless box):
      cs-publish auth --client-secrets client_secret.json

    \b
    Example:
      cs-meta --privacy public -i rendered.jsonl | cs-review | cs-publish -o published.jsonl
      cs-meta -i rendered.jsonl | cs-publish --check && \\
      cs-review -i rendered.jsonl --auto approve-clean | cs-publish --schedule-every 24 -o published.jsonl
      CS_DB=postgresql://publish@db.local/ledger cs-publish -i batch-2.jsonl   # on each box
    """
    if ctx.invoked_subcommand:
        ctx.obj = {"api_endpoint": api_endpoint}
        return
    log.setup("cs-publish", opts.quiet)

    def run() -> int:
        from ..youtube import client

        require = not no_review and (config.get(REVIEW_ENV) or "1").lower() not in ("0", "false", "no")
        stage = Publish(token, client.endpoint(api_endpoint), budget, parse_size(chunk_size), check, schedule_every,
                        uploads_per_day, db, require)
        return pipe.run(stage, opts)

    sys.exit(pipe.guard("cs-publish", run))


@cli.command("auth", context_settings=pipe.CONTEXT_SETTINGS)
@click.option("--client-secrets", required=True, metavar="FILE", type=click.Path(dir_okay=False),
              help="OAuth client JSON (type Desktop app) from the Google Cloud console.")
@click.option("--token", "token_out", metavar="FILE", help="Where to save the token (default $CS_YOUTUBE_TOKEN, "
              "else $XDG_CONFIG_HOME/creator-tools/youtube-token.json).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port of the loopback redirect (0: any free port).")
@click.option("--no-browser", is_flag=True, help="Only print the consent URL (open it yourself).")
@click.option("--timeout", type=click.IntRange(1), default=300, show_default=True, help="Seconds to wait for consent.")
@click.pass_context
def auth_command(ctx: click.Context, client_secrets: str, token_out: str | None, port: int, no_browser: bool,
                 timeout: int) -> None:
    """Authorize creator-tools for your YouTube channel and save the token (mode 0600).

    \b
    Opens Google's consent page and catches the answer on a loopback redirect. The token covers
    uploads, captions, playlists and cs-stats' analytics; it refreshes on its own. On a headless
    GPU box, run this on a desktop and copy the file over (docs/youtube.md).

    \b
    Example:
      cs-publish auth --client-secrets ~/Downloads/client_secret.json
      scp ~/.config/creator-tools/youtube-token.json gpu:.config/creator-tools/
    """

    def run() -> int:
        from ..youtube import auth as yt_auth
        from ..youtube import client

        credentials = yt_auth.run_flow(client_secrets, port=port, open_browser=not no_browser, timeout=timeout)
        path = yt_auth.token_path(token_out)
        yt_auth.save_token(credentials, path)
        log.info(f"saved the token to {path} (mode 0600)")
        endpoint = client.endpoint((ctx.obj or {}).get("api_endpoint"))
        try:
            service = client.build_service("youtube", "v3", endpoint, credentials)
            found = client.execute(service.channels().list(part="snippet", mine=True), "channels.list", tries=2)
            for item in found.get("items", []):
                log.info(f"authorized for channel {item['snippet']['title']!r} ({item['id']})")
        except Exception as exc:  # the token is saved; naming the channel is a courtesy
            log.warn(f"saved, but could not list the channel: {getattr(exc, 'message', exc)}")
        return 0

    sys.exit(pipe.guard("cs-publish", run))
