"""Publishing one record: the upload (or its resume), then thumbnail, captions and playlist, each step
remembered in the ledger so a re-run does only what is missing and never makes a second video."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from typing import Any

from .. import artifacts, log
from ..errors import BadInput
from . import client, ledger, metadata, quota, upload

MIMETYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
             ".webm": "video/webm", ".avi": "video/x-msvideo"}


def watch_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


class Publisher:
    """API access for one run: the token, a service per thread, the channel, the ledgers."""

    def __init__(self, token: Any, endpoint: str | None, budget: int, chunk_size: int,
                 schedule_every_h: float | None = None, uploads_per_day: int = quota.DEFAULT_UPLOADS,
                 db: str | None = None):
        self.db = db or ledger.default_url()
        self.token = token
        self.endpoint = endpoint
        self.chunk_size = chunk_size
        self.schedule_every_h = schedule_every_h
        self.quota = quota.Quota(token.client_id, budget, self.db, uploads=uploads_per_day)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._channel: str | None = None
        self._last_slot: dt.datetime | None = None
        self._playlists: dict[str, str] = {}  # id or title -> id, found or made during this run
        self._playlist_lock = threading.Lock()  # with -j, two records must not both create one playlist

    @property
    def service(self) -> Any:
        if getattr(self._local, "service", None) is None:  # httplib2 objects are not thread-safe
            self._local.service = client.build_service("youtube", "v3", self.endpoint, self.token.credentials)
        return self._local.service

    def call(self, request: Any, name: str) -> Any:
        return client.execute(request, name, quota=self.quota, token=self.token)

    def channel_id(self) -> str:
        with self._lock:
            if self._channel is None:
                client.refresh(self.token)
                found = self.call(self.service.channels().list(part="id", mine=True), "channels.list")
                if not found.get("items"):
                    raise BadInput("the token's Google account has no YouTube channel; create one on youtube.com")
                self._channel = found["items"][0]["id"]
            return self._channel

    def uploads(self) -> ledger.Uploads:
        return ledger.Uploads(self.channel_id(), self.db)

    # --- planning ---------------------------------------------------------------------------------------
    @staticmethod
    def wanted(record: dict) -> dict[str, Any]:
        """The follow-up steps this record asks for: one caption track per translation ("captions:es") and
        the translations' titles and descriptions as localizations."""
        srt = (record.get("captions") or {}).get("srt")
        wanted = {"thumbnail": (record.get("thumb") or {}).get("path"), "captions": srt,
                  "playlist": (record.get("meta") or {}).get("playlist")}
        translations = record.get("translations") if isinstance(record.get("translations"), dict) else {}
        if translations:
            wanted["localizations"] = localizations(translations)
        for language, entry in sorted(translations.items()):
            if isinstance(entry, dict) and entry.get("srt"):
                wanted[f"captions:{language}"] = entry["srt"]
        return wanted

    @staticmethod
    def cost(row: dict | None, wanted: dict[str, Any]) -> dict[str, int]:
        """Units per quota bucket that the missing steps spend at most."""
        steps = (row or {}).get("steps", {})
        calls = [] if row and (row.get("video_id") or row.get("session_uri")) else ["videos.insert"]
        if wanted["thumbnail"] and "thumbnail" not in steps:
            calls.append("thumbnails.set")
        if wanted["captions"] and "captions" not in steps:
            calls.append("captions.insert")
        if wanted["playlist"] and "playlist" not in steps:  # worst case: look up, create, add
            calls += ["playlists.list", "playlists.insert", "playlistItems.insert"]
        if wanted.get("localizations") and "localizations" not in steps and "videos.insert" not in calls:
            calls.append("videos.update")  # the video is up already: localizations go in an update
        calls += ["captions.insert" for key in wanted if key.startswith("captions:") and key not in steps]
        return quota.need(*calls)

    def next_slot(self, uploads: ledger.Uploads) -> str:
        """The next free publish time, SCHEDULE_EVERY_H after the last scheduled one (at least an hour ahead,
        on the hour), so a day's batch spreads over the following days."""
        every = dt.timedelta(hours=self.schedule_every_h or 24)
        now = dt.datetime.now(dt.timezone.utc)
        with self._lock:
            if self._last_slot is None:
                taken = [metadata.parse_time(t) for t in uploads.scheduled()]
                self._last_slot = max(taken) if taken else None
            slot = now + dt.timedelta(hours=1)
            if self._last_slot is not None:
                slot = max(slot, self._last_slot + every)
            if slot.minute or slot.second or slot.microsecond:
                slot = slot.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
            self._last_slot = slot
        return metadata.rfc3339(slot)

    # --- the work ---------------------------------------------------------------------------------------
    def publish(self, record: dict) -> dict:
        meta = dict(record["meta"])
        script = record.get("script") if isinstance(record.get("script"), dict) else {}
        if not meta.get("language") and isinstance(script.get("language"), str):
            meta["language"] = script["language"]  # defaultLanguage and defaultAudioLanguage: the script's
        path = str(record["video"]["path"])
        rid = record.get("id", "?")
        size, sha = artifacts.size_and_sha256(path)  # a store object: its stored hash, no download
        if record["video"].get("sha256") and record["video"]["sha256"] != sha:
            log.warn(f"record {rid}: {path} changed since cs-render (sha256 differs); publishing the file as it is now")
        uploads = self.uploads()
        # One publisher per file at a time, on any machine sharing the ledger: a second one waits here, then
        # finds the finished row below and returns it without sending a byte.
        with uploads.claim(sha):
            return self._publish_claimed(record, meta, path, rid, sha, size, uploads)

    def _publish_claimed(self, record: dict, meta: dict, path: str, rid: str, sha: str, size: int,
                         uploads: ledger.Uploads) -> dict:
        row = uploads.get(sha)
        wanted = self.wanted(record)
        steps = (row or {}).get("steps", {})
        missing = [k for k, v in wanted.items() if v and k not in steps]
        if row and row.get("youtube") and not missing:
            log.info(f"record {rid}: {path} is already on this channel as {row['video_id']}; nothing sent")
            warn_if_edited(rid, meta, row)
            return row["youtube"]
        with self.quota.reserve(self.cost(row, wanted), f"record {rid}"):
            video_id = row.get("video_id") if row else None
            if video_id:
                youtube = dict((row or {}).get("youtube") or {})
                privacy, publish_at = youtube.get("privacy"), youtube.get("publish_at")
            else:
                if self.schedule_every_h and not meta.get("publish_at"):
                    meta["publish_at"] = self.next_slot(uploads)
                metadata.validate(meta)
                body = metadata.video_body(meta)
                if wanted.get("localizations"):  # sent with the upload: no videos.update needed
                    body["localizations"] = wanted["localizations"]
                uploads.mark_claimed(sha, size, path)
                video = upload.upload(
                    self.service, path=path, mimetype=MIMETYPES.get(Path(path).suffix.lower(), "application/octet-stream"),
                    size=size, part="snippet,status" + (",localizations" if "localizations" in body else ""),
                    body=body, chunk_size=self.chunk_size,
                    session_uri=(row or {}).get("session_uri"),
                    save_session=lambda uri: uploads.save_session(sha, size, path, uri),
                    forget_session=lambda: uploads.forget_session(sha),
                    charge=lambda: self.quota.charge("videos.insert"), name=f"record {rid}",
                    token_path=self.token.path)
                video_id = video["id"]
                uploads.save_video(sha, video_id)
                if "localizations" in body and not (row or {}).get("session_uri"):
                    steps["localizations"] = sorted(body["localizations"])
                    uploads.save_step(sha, "localizations", steps["localizations"])
                    self.say_localizations(rid, steps["localizations"])
                status = video.get("status") or body["status"]
                privacy, publish_at = status.get("privacyStatus"), status.get("publishAt")
            if wanted["thumbnail"] and "thumbnail" not in steps:
                steps["thumbnail"] = self.set_thumbnail(video_id, wanted["thumbnail"], rid)
                uploads.save_step(sha, "thumbnail", steps["thumbnail"])
            if wanted["captions"] and "captions" not in steps:
                language = (record.get("captions") or {}).get("language") or meta.get("language") or "en"
                steps["captions"] = self.insert_captions(video_id, wanted["captions"], language)
                uploads.save_step(sha, "captions", steps["captions"])
            if wanted.get("localizations") and "localizations" not in steps:
                steps["localizations"] = self.set_localizations(video_id, wanted["localizations"])
                uploads.save_step(sha, "localizations", steps["localizations"])
                self.say_localizations(rid, steps["localizations"])
            for key in sorted(k for k in wanted if k.startswith("captions:") and k not in steps):
                steps[key] = self.insert_captions(video_id, wanted[key], key.partition(":")[2])
                uploads.save_step(sha, key, steps[key])
            if wanted["playlist"] and "playlist" not in steps:
                playlist_privacy = "public" if publish_at else (privacy or "private")  # scheduled: public later
                steps["playlist"] = self.add_to_playlist(video_id, str(wanted["playlist"]), playlist_privacy)
                uploads.save_step(sha, "playlist", steps["playlist"])
        youtube = {"video_id": video_id, "url": watch_url(video_id), "privacy": privacy, "publish_at": publish_at,
                   "thumbnail_set": bool(steps.get("thumbnail")), "caption_id": steps.get("captions"),
                   "playlist_item_id": steps.get("playlist")}
        tracks = {k.partition(":")[2]: v for k, v in steps.items() if k.startswith("captions:")}
        if steps.get("captions"):
            tracks = {(record.get("captions") or {}).get("language") or meta.get("language") or "en": steps["captions"], **tracks}
        if tracks or steps.get("localizations"):
            youtube.update(captions=tracks, localizations=list(steps.get("localizations") or []))
        uploads.save_done(sha, youtube, summary(record))
        return youtube

    def set_thumbnail(self, video_id: str, path: str, rid: str) -> bool:
        from googleapiclient.http import MediaFileUpload

        kind = check_thumbnail(path)
        request = self.service.thumbnails().set(videoId=video_id, media_body=MediaFileUpload(path, mimetype=kind))
        try:
            self.call(request, "thumbnails.set")
        except Exception as exc:
            if "forbidden" in str(exc) and "403" in str(exc):  # custom thumbnails need a verified channel
                log.warn(f"record {rid}: YouTube refused the custom thumbnail (verify the channel at "
                         f"youtube.com/verify to allow them); published without it")
                return False
            raise
        return True

    def set_localizations(self, video_id: str, wanted: dict) -> list[str]:
        """videos.update with part=localizations for a video uploaded before the record had translations
        (YouTube takes them only from a video with a defaultLanguage, which the upload set)."""
        body = {"id": video_id, "localizations": wanted}
        self.call(self.service.videos().update(part="localizations", body=body), "videos.update")
        return sorted(wanted)

    @staticmethod
    def say_localizations(rid: str, languages: list[str]) -> None:
        log.info(f"record {rid}: set localizations {', '.join(languages)}: viewers with those languages see the "
                 "translated title and description, and a title edited later in YouTube Studio does not change them")

    def insert_captions(self, video_id: str, path: str, language: str) -> str:
        from googleapiclient.http import MediaFileUpload

        from .. import languages

        if not Path(path).is_file():
            raise BadInput(f"captions.srt: {path}: no such caption file; run cs-caption again")
        # The track is named by its language ("Español" needs no code): what the viewer picks in the player.
        body = {"snippet": {"videoId": video_id, "language": language, "name": languages.name(language),
                            "isDraft": False}}
        media = MediaFileUpload(path, mimetype="application/octet-stream")
        return self.call(self.service.captions().insert(part="snippet", body=body, media_body=media), "captions.insert")["id"]

    def find_playlist(self, wanted: str) -> str | None:
        """A playlist of this channel whose id or title is WANTED."""
        token = None
        while True:
            page = self.call(self.service.playlists().list(part="snippet", mine=True, maxResults=50, pageToken=token),
                             "playlists.list")
            for item in page.get("items", []):
                if wanted in (item["id"], item["snippet"]["title"]):
                    return item["id"]
            token = page.get("nextPageToken")
            if not token:
                return None

    def add_to_playlist(self, video_id: str, wanted: str, privacy: str) -> str:
        with self._playlist_lock:
            playlist_id = self._playlists.get(wanted) or self.find_playlist(wanted)
            if playlist_id is None:
                body = {"snippet": {"title": wanted}, "status": {"privacyStatus": privacy}}
                playlist_id = self.call(self.service.playlists().insert(part="snippet,status", body=body),
                                        "playlists.insert")["id"]
                log.info(f"created playlist {wanted!r} ({playlist_id})")
            self._playlists[wanted] = playlist_id
        body = {"snippet": {"playlistId": playlist_id, "resourceId": {"kind": "youtube#video", "videoId": video_id}}}
        return self.call(self.service.playlistItems().insert(part="snippet", body=body), "playlistItems.insert")["id"]


def localizations(translations: dict) -> dict[str, dict]:
    """videos' `localizations` from cs-translate's translations: {LANG: {title, description}}."""
    return {language: {"title": entry.get("title") or "", "description": entry.get("description") or ""}
            for language, entry in sorted(translations.items()) if isinstance(entry, dict) and entry.get("title")}


def warn_if_edited(rid: str, meta: dict, row: dict) -> None:
    """Metadata edited after the upload is not sent (videos.update is not implemented): say so loudly
    rather than let the record look published with the new title or privacy."""
    uploaded = (row.get("record") or {}).get("title")
    privacy = "private" if meta.get("publish_at") else (meta.get("privacy") or "private")
    changed = [name for name, now, then in (("title", meta.get("title"), uploaded),
                                            ("privacy", privacy, (row.get("youtube") or {}).get("privacy")))
               if then is not None and now != then]
    if changed:
        log.warn(f"record {rid}: meta {' and '.join(changed)} changed since video {row['video_id']} was uploaded; "
                 "cs-publish does not update uploaded videos yet: change it in YouTube Studio")


def check_thumbnail(path: str) -> str:
    """The MIME type of the record's thumb.path; BadInput naming that key unless it is a JPEG or PNG of at most
    50 MB."""
    if not Path(path).is_file():
        raise BadInput(f"thumb.path: {path}: no such thumbnail; run cs-thumb again")
    kind = metadata.image_kind(path)
    if kind is None:
        raise BadInput(f"thumb.path: {path}: the thumbnail is not a JPEG or PNG; run cs-thumb again")
    size = os.path.getsize(path)
    if size > metadata.THUMBNAIL_MAX:
        raise BadInput(f"thumb.path: {path}: the thumbnail is {size / 1e6:.1f} MB; YouTube takes at most "
                       f"{metadata.THUMBNAIL_MAX // (1024 * 1024)} MB (save it as JPEG)")
    return kind


def summary(record: dict) -> dict:
    """What cs-stats joins to each video's performance: the concept, its length, hour and thumbnail."""
    meta, voice, thumb = record.get("meta") or {}, record.get("voice") or {}, record.get("thumb") or {}
    return {"id": record.get("id"), "topic": record.get("topic"), "format": record.get("format"),
            "title": meta.get("title") or record.get("title"), "hook": record.get("hook"),
            "voice": {"duration_s": voice.get("duration_s")}, "video": {"duration_s": (record.get("video") or {}).get("duration_s")},
            "meta": {"publish_at": meta.get("publish_at")}, "thumb": {"path": thumb.get("path")}}
