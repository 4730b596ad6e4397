"""Load once: every slow thing built once per process (a model, a font list, a store client, an encoder
probe) goes through `Once` or `@once`.

- Threads asking for one key at once wait for a single build (a -j run loads one model, not N copies);
  different keys build side by side.
- A build that raises is never kept: the next call tries again (a bucket created meanwhile, a model
  downloaded, a server that came up). functools.lru_cache gives neither the lock nor, used by hand
  around a check, that promise (storage.get_store once kept a store whose bucket check failed).
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Hashable, TypeVar

T = TypeVar("T")


class Once:
    """Values built once per key and process; a failed build leaves nothing behind."""

    def __init__(self):
        self._items: dict[Hashable, Any] = {}
        self._building: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                return self._items[key]
            lock = self._building.setdefault(key, threading.Lock())
        with lock:  # one build per key at a time; the others wait for it and then find the value
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = build()  # an exception propagates and nothing is stored
            with self._lock:
                self._items[key] = value
                self._building.pop(key, None)
            return value

    def peek(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            return self._items.get(key, default)

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def once(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator: FN's result per argument tuple, built once (see Once); `fn.cache_clear()` forgets all."""
    cache = Once()

    @functools.wraps(fn)
    def wrapper(*args: Hashable, **kwargs: Hashable) -> T:
        key = (args, tuple(sorted(kwargs.items())))
        return cache.get(key, lambda: fn(*args, **kwargs))

    wrapper.cache_clear = cache.clear  # type: ignore[attr-defined]
    wrapper.cache = cache  # type: ignore[attr-defined]
    return wrapper
