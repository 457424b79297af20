"""Files kept between processes, so a fresh `gdl run` skips work done before.

Start-up is dominated by work whose answer never changes between runs:
building the LALR tables from `grammar.lark` (about 100 ms) and compiling
OpenCL programs (PoCL's own cache still costs about 30 ms per program).
The answers live in one directory: $GDL_CACHE_DIR, else $XDG_CACHE_HOME/gdl,
else ~/.cache/gdl (%LOCALAPPDATA%/gdl on Windows); GDL_CACHE_DIR set to an
empty value turns the disk cache off.

An entry is one file named by a hash of everything its content depends on,
so changed inputs are a different file, never a stale hit.  Files are written
under a temporary name and renamed into place, so a reader sees a whole file
or none, also while several processes fill the cache at once.  The cache is
only an optimisation: a missing, unreadable, unwritable or corrupt cache means
the work is done again, never an error.  Callers check what they load (a
corrupt file must fail to load, and they then rebuild).
Imports only the standard library.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

ENV_VAR = "GDL_CACHE_DIR"


def directory() -> Path | None:
    """The cache directory (not created here), or None when the disk cache is off.

    Read from the environment on every call, so a test or a caller can point
    it elsewhere without any state to reset.
    """
    chosen = os.environ.get(ENV_VAR)
    if chosen is not None:
        return Path(chosen).expanduser() if chosen.strip() else None
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "gdl"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gdl"


def key(*parts: str | bytes) -> str:
    """A file-name-safe digest of `parts` (each one length-prefixed, so no two lists collide)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def entry(kind: str, name: str) -> Path | None:
    """Where entry `name` of `kind` (a subdirectory: "parser", "kernels") lives, or None."""
    base = directory()
    return None if base is None else base / kind / name


def read(kind: str, name: str) -> bytes | None:
    """The bytes of an entry, or None when it is missing or cannot be read."""
    path = entry(kind, name)
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def write(kind: str, name: str, data: bytes) -> bool:
    """Store an entry atomically; False (and nothing left behind) when that is not possible."""
    path = entry(kind, name)
    if path is None:
        return False
    tmp = None
    try:
        # Private to the user: loaders unpickle what they find here.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return False


def seen_before(kind: str, name: str) -> bool:
    """Whether an earlier call (in any process) asked about `name`; remembers this call.

    For entries that are costly to produce and pay off only when the same
    work recurs: the first sighting leaves an empty marker file, the second
    finds it.  With the cache off or unwritable, the answer is always False.
    """
    path = entry(kind, name + ".seen")
    if path is None:
        return False
    if path.exists():
        return True
    write(kind, name + ".seen", b"")
    return False
