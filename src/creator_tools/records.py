"""JSON Lines in and out. Reading is lazy (a generator, never a slurp) so a stage starts on the first
record while the previous stage is still writing; writing is one compact line per record, flushed at once."""

from __future__ import annotations

import json
import re
import sys
from typing import IO, Any, Iterable, Iterator

from .errors import BadInput, UsageError

Record = dict[str, Any]


class Item:
    """One input line: a record, or the error that stops it from being one. (A plain class: a dataclass
    costs every command's --help a code generation at import.)"""

    __slots__ = ("source", "line", "record", "error")

    def __init__(self, source: str, line: int, record: Record | None = None, error: BadInput | None = None):
        self.source, self.line, self.record, self.error = source, line, record, error

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def _open(path: str, flag: str) -> IO[bytes]:
    # Binary, decoded per line: undecodable bytes become one bad line with its number, not a dead stream.
    if path == "-":
        return open(sys.stdin.fileno(), "rb", closefd=False)
    try:
        return open(path, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}; check the path given to {flag}") from exc


class NonFinite(BadInput):
    """A line holding NaN or infinity (Python's json reads them; JSON has no such numbers). `record` is the
    line with those numbers turned into null, so with -k the error record keeps the rest of it."""

    def __init__(self, message: str, record: Record):
        super().__init__(message)
        self.record = record

    @property
    def type(self) -> str:
        return "BadInput"  # what error records and their readers know


class _NotJSON(ValueError):
    pass


def _finite(text: str) -> float:
    number = float(text)
    if number != number or number in (float("inf"), float("-inf")):  # 1e999 parses to inf
        raise _NotJSON(text)
    return number


def _constant(text: str) -> float:
    raise _NotJSON(text)


def parse_line(text: str, where: str) -> Record:
    """One JSON object, strictly: no NaN or Infinity, not nested past Python's recursion limit."""
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{where}: not a JSON object ({exc.msg} at column {exc.colno}); fix or remove the line") from None
    except RecursionError:
        raise BadInput(f"{where}: not a JSON object this program can read (nested too deeply); flatten the "
                       "line or remove it") from None
    except _NotJSON:
        return _non_finite(text, where)
    except ValueError:  # an integer of thousands of digits
        raise BadInput(f"{where}: a number has thousands of digits, more than any record needs; fix or remove "
                       "the line") from None
    if not isinstance(value, dict):
        raise BadInput(f"{where}: not a JSON object; each line must be one {{...}} record")
    if "\\u" in text and _SURROGATE.search(text):
        _refuse_lone_surrogates(value, where)
    return value


# `"\ud800"` is valid JSON but decodes to half a UTF-16 pair, which no UTF-8 output can carry: refused on the
# way in, so one bad line is that line's error and not a crash when its record is written.
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _refuse_lone_surrogates(value: Record, where: str) -> None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{where}: a string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff) that no UTF-8 "
                       "text can carry; fix or remove the line") from None


def _non_finite(text: str, where: str) -> Record:
    """Raise NonFinite naming where NaN/Infinity sit (`voice.duration_s`), with them turned into null."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise BadInput(f"{where}: not a JSON object (NaN or infinity, and more); fix or remove the line") from None
    if not isinstance(value, dict):
        raise BadInput(f"{where}: not a JSON object; each line must be one {{...}} record")
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(value, "")]  # a loop, not recursion: the line may nest deeply
    while stack:
        node, path = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            place = f"{path}[{key}]" if isinstance(node, list) else (f"{path}.{key}" if path else str(key))
            if isinstance(child, float) and child - child != 0:  # NaN or infinity
                node[key] = None
                found.append(place)
            elif isinstance(child, (dict, list)):
                stack.append((child, place))
    found.sort()
    shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
    raise NonFinite(f"{where}: {shown} {'is' if len(found) == 1 else 'are'} NaN or infinity, which JSON has "
                    "no numbers for; write a number or null", value)


def read_items(sources: Iterable[str], flag: str = "-i") -> Iterator[Item]:
    """Yield an Item per non-blank line of each source ("-" is stdin), in order; FLAG is the option that
    named the sources, for the message when one cannot be opened."""
    for source in sources:
        name = "<stdin>" if source == "-" else source
        handle = _open(source, flag)
        try:
            number = 0
            while True:
                number += 1
                raw = handle.readline()
                if not raw:
                    break
                if number == 1:
                    raw = raw.removeprefix(b"\xef\xbb\xbf")  # the byte-order mark Windows editors write first
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    yield Item(name, number, error=BadInput(f"{name}:{number}: not UTF-8 text; re-encode the input"))
                    continue
                if not text.strip():
                    continue
                try:
                    yield Item(name, number, record=parse_line(text, f"{name}:{number}"))
                except BadInput as exc:
                    yield Item(name, number, record=getattr(exc, "record", None), error=exc)
        finally:
            if source != "-":
                handle.close()


def dumps(record: Record) -> str:
    """Strict JSON: NaN or infinity raise ValueError instead of being written as bare `NaN`."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def write(out: IO[str], record: Record) -> None:
    out.write(dumps(record) + "\n")
    out.flush()


def new_id(*parts: Any) -> str:
    """A short id: stable for the same parts (so re-runs name the same records), random without them."""
    if not parts:
        import uuid

        return uuid.uuid4().hex[:12]
    return fingerprint(parts)[:12]


def fingerprint(value: Any) -> str:
    """sha256 of a JSON value in canonical form: the name of work done on exactly these inputs."""
    import hashlib  # OpenSSL's start-up is paid only by commands that hash

    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
