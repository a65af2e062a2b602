"""kill -9 of `serve` during uploads (issue 23, F9): an upload stored in the media folder but
never recorded as an image is removed when the catalogue is next opened for writing, like a
stale temp file; every recorded upload keeps its file."""

from __future__ import annotations

import io
import shutil
import signal
import sqlite3
import threading
from hashlib import sha256

import pytest
from PIL import Image
from processes import run_cli, serving

pytestmark = pytest.mark.slow


def stored_uploads(shop) -> set[str]:
    media = shop / "media"
    return {p.name.split(".")[0] for p in media.glob("??/*") if not p.name.startswith(".")} if media.is_dir() else set()


def recorded_hashes(shop) -> set[str]:
    with sqlite3.connect(f"file:{shop / 'catalog.db'}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT sha256 FROM images")}


def photo(n: int) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((96, 96), 40 + n % 50).convert("RGB").rotate(n).save(buf, "PNG")
    return buf.getvalue()


def test_uploads_a_killed_server_never_recorded_are_removed_on_the_next_write_open(file_catalog_template, tmp_path):
    shop = tmp_path / "shop"
    shutil.copytree(file_catalog_template, shop)
    sent, stop = [], threading.Event()
    with serving(shop) as server:
        def upload() -> None:
            with server.client(timeout=10) as client:
                for n in range(500):
                    if stop.is_set():
                        return
                    try:
                        client.post("/products/red-blue/images", files={"image": (f"{n}.png", photo(n), "image/png")})
                    except Exception:  # the server was killed mid-request
                        return
                    sent.append(n)
        threads = [threading.Thread(target=upload) for _ in range(4)]
        for thread in threads:
            thread.start()
        while len(sent) < 20:
            threads[0].join(0.05)
        server.stop(signal.SIGKILL)
        stop.set()
        for thread in threads:
            thread.join()
    # and one stored the instant before its image row, deterministically
    orphan = photo(9999)
    sha = sha256(orphan).hexdigest()
    (shop / "media" / sha[:2]).mkdir(parents=True, exist_ok=True)
    (shop / "media" / sha[:2] / f"{sha}.png").write_bytes(orphan)
    assert stored_uploads(shop) - recorded_hashes(shop)
    recorded = recorded_hashes(shop) & stored_uploads(shop)
    assert len(recorded) >= 20
    assert run_cli("--catalog", shop, "-q", "info").returncode == 0  # opened for writing
    assert stored_uploads(shop) == recorded  # the unrecorded gone, every recorded one kept
    assert not list((shop / "media").glob("??/.*"))  # no temp file either
