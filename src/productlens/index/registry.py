"""The index kinds, by name: `register_index` adds one; everything else looks kinds up here.

Modelled on timm's model registry (register by name, list, create): the CLI, the live index and
the catalogue never special-case a backend, they ask its entry. A server kind is written as an
address, `NAME://host:port` (e.g. milvus://127.0.0.1:19530), and keeps no file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import VectorIndexError
from .base import VectorIndex

Create = Callable[..., VectorIndex]  # (kind, dim, **options) -> a new empty index
Load = Callable[[str, Path, int, bool], VectorIndex]  # (kind, path, dim, mmap) -> the index saved there


@dataclass(frozen=True)
class IndexKind:
    """A registered backend: how to make one, how to load a saved one, what else it is called."""

    name: str
    create: Create
    load: Load | None = None  # None: not kept in a file (a server's collection, or in memory only)
    aliases: tuple[str, ...] = ()
    remote: bool = False  # a server, addressed as NAME://host:port
    offered: bool = True  # listed to users in help and errors; the memory fake is for tests (accepted, not listed)

    @property
    def persistent(self) -> bool:
        """True when the index lives in a file next to the catalogue."""
        return self.load is not None


_KINDS: dict[str, IndexKind] = {}
_ALIASES: dict[str, str] = {}


def register_index(name: str, create: Create, load: Load | None = None, *, aliases: tuple[str, ...] = (),
                   remote: bool = False, offered: bool = True) -> IndexKind:
    """Register a backend under `name` (and its short `aliases`); returns its entry."""
    entry = IndexKind(name, create, load, tuple(aliases), remote, offered)
    _KINDS[name] = entry
    _ALIASES.update({alias: name for alias in aliases})
    return entry


def list_kinds(*, offered_only: bool = False) -> list[str]:
    """Registered kind names, sorted (a server kind by its scheme name, e.g. `milvus`)."""
    return sorted(name for name, entry in _KINDS.items() if entry.offered or not offered_only)


def kind_entry(kind: str) -> IndexKind:
    """The entry of a kind name, an alias, or a server address; VectorIndexError lists the choices."""
    name = _ALIASES.get(kind, kind)
    if "://" in name:
        entry = _KINDS.get(name.split("://", 1)[0])
        if entry is not None and entry.remote:
            return entry
    elif name in _KINDS:
        return _KINDS[name]
    raise VectorIndexError(f"unknown index kind {kind!r}; known: {known_kinds()}")


def known_kinds() -> str:
    """The kinds a user may name, as one line for error messages and help."""
    names = [f"{name}://host:port" if entry.remote else name for name, entry in sorted(_KINDS.items()) if entry.offered]
    return ", ".join(names + sorted(_ALIASES))


def canonical_kind(kind: str) -> str:
    """The stored form of a kind: an alias becomes its name, a server address is checked and kept."""
    entry = kind_entry(kind)
    if not entry.remote:
        return entry.name
    parsed = urlparse(kind)
    try:
        parsed.port
    except ValueError:
        raise VectorIndexError(f"bad port in {kind!r}") from None
    if not parsed.hostname:
        raise VectorIndexError(f"not a server address: {kind!r} (expected {entry.name}://host:port)")
    return kind


def is_remote(kind: str) -> bool:
    """True for kinds that live on a server (no index file)."""
    return kind_entry(kind).remote


def create_index(kind: str, dim: int, **options: Any) -> VectorIndex:
    """A new empty index of a registered kind (a server address opens a collection there)."""
    return kind_entry(kind).create(canonical_kind(kind), dim, **options)


def load_index(kind: str, path: Path, dim: int, *, mmap: bool = False) -> VectorIndex:
    """Load a persisted index of a given kind (memory-mapped if asked and the kind allows)."""
    entry = kind_entry(kind)
    if entry.load is None:
        raise VectorIndexError(f"index kind {kind!r} cannot be loaded from a file")
    return entry.load(entry.name, Path(path), dim, mmap)
