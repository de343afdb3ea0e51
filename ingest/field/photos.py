"""Field photos on disk, content-addressed: ``<photo_dir>/<sha[:2]>/<sha>.<ext>``.

The file is written (atomically: temporary name, then rename) before the row commits; a
rolled-back upload leaves a file no row points to, which the next upload of the same picture
reuses, so a retried offline sync never stores a picture twice.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.field.exceptions import InvalidPhoto
from ingest.field.models import Photo

# Magic numbers: what the bytes are, whatever the client claims.
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)


@dataclass(frozen=True)
class PhotoBytes:
    data: bytes
    sha256: str
    content_type: str
    extension: str


def inspect_photo(data: bytes, *, max_bytes: int) -> PhotoBytes:
    """Check an upload is a picture we keep, and hash it."""
    if not data:
        raise InvalidPhoto("the photo is empty")
    if len(data) > max_bytes:
        raise InvalidPhoto(f"the photo is larger than {max_bytes // 1024} KiB")
    kind = next(((t, e) for magic, t, e in _SIGNATURES if data.startswith(magic)), None)
    if kind is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = ("image/webp", "webp")
    if kind is None:
        raise InvalidPhoto("the photo must be a JPEG, PNG or WebP image")
    content_type, extension = kind
    return PhotoBytes(data, hashlib.sha256(data).hexdigest(), content_type, extension)


def photo_path(root: Path, *, sha256: str, extension: str) -> Path:
    return root / sha256[:2] / f"{sha256}.{extension}"


def _write_once(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


async def store_photo(
    session: AsyncSession, *, photo: PhotoBytes, root: Path, uploaded_by: int
) -> int:
    """Write the file (once per content) and its row; the photo's id."""
    _write_once(photo_path(root, sha256=photo.sha256, extension=photo.extension), photo.data)
    await session.execute(
        insert(Photo)
        .values(
            sha256=photo.sha256,
            content_type=photo.content_type,
            size_bytes=len(photo.data),
            uploaded_by=uploaded_by,
        )
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    photo_id = await session.scalar(select(Photo.id).where(Photo.sha256 == photo.sha256))
    assert photo_id is not None
    return photo_id
