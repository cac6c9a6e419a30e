"""Writing one file of promptdsl's cache folder (`cache_dir(kind)`): whole or not at all (a
temporary file renamed onto the name, so a reader never sees half a file), and never an error
(an unwritable or full disk only costs the next run the work again)."""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path


def write_cache_file(path: Path, write) -> None:
    """`write(temporary path)`, then rename it onto `path`; OSError is swallowed."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


def write_cache_json(path: Path, value) -> None:
    write_cache_file(path, lambda tmp: tmp.write_text(json.dumps(value, ensure_ascii=False),
                                                      encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def source_print(files: tuple) -> str:
    """A hash of source files' names and bytes, in the order given (once per process): a cache
    entry written by other code must never answer for this code. File names, not paths, so
    one version of the code installed in two places shares its entries."""
    digest = hashlib.sha256()
    for path in files:
        try:
            digest.update(Path(path).name.encode() + Path(path).read_bytes())
        except OSError:
            digest.update(f"{path}: unreadable".encode())
    return digest.hexdigest()[:16]
