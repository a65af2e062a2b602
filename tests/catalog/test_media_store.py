"""MediaStore: content-addressed originals, thumbnails only from bytes the database vouches for."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from productlens.catalog.media import MediaStore
from productlens.catalog.store import ImageRecord


def record(sha: str, source: str | None, image_id: int = 1) -> ImageRecord:
    return ImageRecord(image_id, "p", sha, source, None, None, "JPEG", "ok", None, "now")


def test_original_saved_once_by_hash(tmp_path, query_photos):
    media = MediaStore(tmp_path)
    data = query_photos["Banana"].read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    path = media.save_original(data, "JPEG")
    assert path == tmp_path / "media" / sha[:2] / f"{sha}.jpg" and path.read_bytes() == data
    assert media.save_original(data, "JPEG") == path
    assert media.original_path(sha) == path
    assert media.original_path("../" + sha[3:]) is None and media.original_path("zz") is None
    assert not list(path.parent.glob(".tmp-*"))


def test_thumbnail_from_upload_and_from_verified_source(tmp_path, query_photos):
    media = MediaStore(tmp_path)
    data = query_photos["Banana"].read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    # an ingested image: read from its source path, since the bytes still match
    thumb = media.thumbnail(record(sha, str(query_photos["Banana"])), 128)
    with Image.open(thumb) as im:
        assert max(im.size) == 128 and im.format == "JPEG"
    assert media.thumbnail(record(sha, None), 128) == thumb  # cached
    with pytest.raises(ValueError):
        media.thumbnail(record(sha, None), 100)


def test_source_with_other_content_is_not_served(tmp_path, query_photos):
    media = MediaStore(tmp_path)
    sha = hashlib.sha256(query_photos["Banana"].read_bytes()).hexdigest()
    changed = tmp_path / "changed.jpg"
    changed.write_bytes(query_photos["Granny-Smith"].read_bytes())
    assert media.original_bytes(record(sha, str(changed))) is None
    assert media.thumbnail(record(sha, str(changed)), 256) is None
    assert media.original_bytes(record(sha, "/etc/passwd")) is None
