"""Claim attachments on disk: each file kept once, by its sha256, under one folder."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class FileStore:
    """Files by content: `root/ab/abcdef...` for a sha256 of abcdef..."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store the bytes (once: the same bytes are one file); returns their sha256."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{digest}.")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)  # atomic: a reader never sees half a file
        return digest

    def delete(self, sha256: str) -> None:
        """Remove the file (an erasure); nothing if it is already gone."""
        self.path(sha256).unlink(missing_ok=True)
