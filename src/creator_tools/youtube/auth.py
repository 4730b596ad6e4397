"""OAuth for the YouTube APIs: the installed-app flow with a loopback redirect (`cs-publish auth`), the
authorized-user token file it writes (mode 0600 under $XDG_CONFIG_HOME/creator-tools/), and loading that
file anywhere else (`--token FILE` or CS_YOUTUBE_TOKEN on a headless box). Access tokens refresh on their
own through the file's `token_uri`; a refreshed token is written back so the next run starts valid."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from ..core import config
from ..errors import ConfigError

TOKEN_ENV = config.variable("CS_YOUTUBE_TOKEN")
SCOPE_UPLOAD = "https://www.googleapis.com/auth/youtube.upload"
SCOPE_YOUTUBE = "https://www.googleapis.com/auth/youtube"
SCOPE_FORCE_SSL = "https://www.googleapis.com/auth/youtube.force-ssl"  # captions.insert needs it
SCOPE_READONLY = "https://www.googleapis.com/auth/youtube.readonly"
SCOPE_ANALYTICS = "https://www.googleapis.com/auth/yt-analytics.readonly"
# One consent covers publishing and cs-stats, so a box needs a single token file.
DEFAULT_SCOPES = [SCOPE_UPLOAD, SCOPE_YOUTUBE, SCOPE_FORCE_SSL, SCOPE_READONLY, SCOPE_ANALYTICS]
REAUTH = "run `cs-publish auth --client-secrets FILE` again (on a desktop) and copy the new token file"


def config_dir() -> Path:
    base = config.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "creator-tools"


def default_token_path() -> Path:
    return config_dir() / "youtube-token.json"


def token_path(option: str | None = None) -> Path:
    """--token FILE, else $CS_YOUTUBE_TOKEN, else the file `cs-publish auth` writes."""
    return Path(option or config.get(TOKEN_ENV) or default_token_path())


def _allow_loopback_http(url: str) -> None:
    # oauthlib refuses plain http token endpoints; a loopback one (the test server, a local proxy) is safe.
    if urllib.parse.urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1"):
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


def run_flow(client_secrets: str | Path, *, scopes: list[str] | None = None, port: int = 0,
             open_browser: bool = True, timeout: int = 300) -> Any:
    """The installed-app flow: a loopback redirect server on PORT (0 = any free port), the consent URL on
    stderr (and in a browser when there is one). Returns google.oauth2.credentials.Credentials."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), scopes=scopes or DEFAULT_SCOPES)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot read client secrets {client_secrets}: {exc}; download the OAuth client "
                          f"(type Desktop app) JSON from the Google Cloud console") from None
    _allow_loopback_http(flow.client_config["token_uri"])
    os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")  # a narrower grant is checked by --check instead
    try:
        with contextlib.redirect_stdout(sys.stderr):  # the flow prints the URL; stdout is for records
            return flow.run_local_server(
                host="localhost", bind_addr="127.0.0.1", port=port, open_browser=open_browser,
                timeout_seconds=timeout,
                authorization_prompt_message="Open this URL in a browser to let creator-tools use YouTube:\n{url}",
                success_message="creator-tools is authorized; you can close this tab.",
                access_type="offline", prompt="consent",
            )
    except Exception as exc:  # oauthlib and the redirect server raise many kinds
        raise ConfigError(f"authorization failed: {exc}; run `cs-publish auth` again") from None


def save_token(credentials: Any, path: Path) -> None:
    """Write the authorized-user JSON with mode 0600 from the start (never world-readable, even briefly:
    the temp file is created 0600), in a 0700 folder when it is the toolkit's own config folder."""
    from ..core import files

    if Path(path).parent == config_dir():
        files.private_dir(config_dir())
    files.atomic_write_text(path, credentials.to_json(), mode=files.PRIVATE_FILE)


class Token:
    """Credentials from a token file, written back after a refresh."""

    def __init__(self, path: Path, credentials: Any):
        self.path = path
        self.credentials = credentials
        self._saved = credentials.token

    @property
    def client_id(self) -> str:
        return self.credentials.client_id or "default"

    def scopes(self) -> set[str]:
        granted = getattr(self.credentials, "granted_scopes", None) or self.credentials.scopes or []
        return set(granted)

    def save_if_refreshed(self) -> None:
        if self.credentials.token and self.credentials.token != self._saved:
            try:
                save_token(self.credentials, self.path)
                self._saved = self.credentials.token
            except OSError:
                pass  # a read-only copied token still works: it refreshes again next run


def load_token(option: str | None = None) -> Token:
    """Load the authorized-user token file (see token_path); ConfigError naming the fix when it is missing
    or unreadable."""
    path = token_path(option)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no YouTube token at {path}; run `cs-publish auth --client-secrets FILE`, or copy a "
                          f"token file here and pass --token FILE (or set {TOKEN_ENV})") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the YouTube token {path}: {exc}; {REAUTH}") from None
    try:
        credentials = credentials_from_info(info)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is not an authorized-user token ({exc}); {REAUTH}") from None
    _allow_loopback_http(credentials.token_uri or "")
    return Token(path, credentials)


GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
TRUSTED_TOKEN_HOSTS = {"oauth2.googleapis.com", "accounts.google.com", "www.googleapis.com", "127.0.0.1", "localhost", "::1"}


def credentials_from_info(info: dict) -> Any:
    """google.oauth2.credentials.Credentials from authorized-user JSON, honouring its `token_uri` when it is
    Google's or a loopback server (google-auth's own loader always uses Google's, so a token issued by a
    test or proxy server could not refresh). Any other host is ignored: a token file must not be able to
    send the refresh token and client secret elsewhere."""
    import datetime as dt

    from google.oauth2.credentials import Credentials

    missing = {"refresh_token", "client_id", "client_secret"} - set(info)
    if missing:
        raise ValueError(f"missing {', '.join(sorted(missing))}")
    token_uri = info.get("token_uri") or GOOGLE_TOKEN_URI
    if urllib.parse.urlsplit(token_uri).hostname not in TRUSTED_TOKEN_HOSTS:
        token_uri = GOOGLE_TOKEN_URI
    expiry = None
    if info.get("expiry"):
        expiry = dt.datetime.strptime(str(info["expiry"]).rstrip("Z").split(".")[0].split("+")[0], "%Y-%m-%dT%H:%M:%S")
    scopes = info.get("scopes")
    if isinstance(scopes, str):
        scopes = scopes.split()
    return Credentials(token=info.get("token"), refresh_token=info["refresh_token"], token_uri=token_uri,
                       client_id=info["client_id"], client_secret=info["client_secret"], scopes=scopes,
                       expiry=expiry)


def refresh_error(exc: BaseException, path: Path) -> ConfigError:
    """One line for a refresh that failed: revoked/expired refresh token, or an unreachable token server."""
    text = str(exc)
    if "invalid_grant" in text or "revoked" in text or "expired" in text.lower():
        return ConfigError(f"the YouTube refresh token in {path} was revoked or has expired; {REAUTH}")
    if "invalid_client" in text:
        return ConfigError(f"the OAuth client in {path} was deleted or its secret changed; {REAUTH}")
    return ConfigError(f"could not refresh the YouTube token from {path} ({text.splitlines()[0] if text else type(exc).__name__}); "
                       f"check the network, or {REAUTH}")
