"""`models use` from the CLI while `serve` runs and takes uploads (issue #12.3): one active model per
catalogue, seen by every process.

The server used to keep searching with the old model, miss what the CLI added, and store uploads
with the old model's embedding only (after a restart: images 1502, indexed_vectors 1501). Here a
real `serve` process takes a stream of uploads while the CLI switches the model version; then the
server must search with the new version (it finds what the CLI adds, with the CLI's scores), the
CLI must see every upload, and every image must have the active version's embedding, also after
a restart and a roll-back.
"""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from integrity import check_catalogue
from processes import copy_catalogue, report, run_cli, serving
from tiny import PRODUCTS, add_version, product_photo

from productlens import Catalog

pytestmark = pytest.mark.slow

UPLOADS = 40


def png(product: str, seed: int) -> bytes:
    buf = io.BytesIO()
    product_photo(product, seed).save(buf, "PNG")
    return buf.getvalue()


def test_models_use_while_serving_leaves_one_model_everywhere(big_catalog_template, tmp_path):
    shop = copy_catalogue(big_catalog_template, tmp_path)
    with Catalog.open(shop) as catalog:
        v2 = add_version(catalog, "v2")
    products = list(PRODUCTS)
    uploads = [(products[i % 4], png(products[i % 4], 90_000 + i)) for i in range(UPLOADS)]
    acknowledged: dict[int, str] = {}
    waits: list[float] = []
    retried = 0
    with serving(shop, env={"PRODUCTLENS_REQUEST_TIMEOUT": "2"}) as server:

        def upload_all() -> None:
            nonlocal retried
            with server.client() as client:
                for pid, data in uploads:
                    while True:
                        started = time.monotonic()
                        answer = client.post(f"/products/{pid}/images", files={"image": ("u.png", data, "image/png")})
                        waits.append(time.monotonic() - started)
                        if answer.status_code == 503:  # another writer (the switch) holds the lock: retry
                            assert answer.json()["error"]["code"] in ("busy", "model-changed")
                            retried += 1
                            time.sleep(0.2)
                            continue
                        assert answer.status_code == 201, answer.text
                        acknowledged[answer.json()["image_id"]] = pid
                        break
                    time.sleep(0.03)

        uploader = threading.Thread(target=upload_all)
        uploader.start()
        while len(acknowledged) < 5:
            time.sleep(0.05)
        before_switch = len(acknowledged)
        switched = run_cli("--catalog", shop, "models", "use", "v2", "--force", "--json")
        assert switched.returncode == 0, switched.stderr
        activation = json.loads(switched.stdout)
        written_before = activation["embedded"] + activation["reused"] - 1012  # uploads the switch embedded with v2
        uploader.join(timeout=120)
        assert not uploader.is_alive() and len(acknowledged) == UPLOADS

        # The CLI adds a photo: the server finds it, with the same score the CLI gets (the v2 model).
        photo = tmp_path / "cli.png"
        product_photo("black-white", 123_456).save(photo)
        assert run_cli("--catalog", shop, "-q", "add", photo, "--product", "cli-added").returncode == 0
        with server.client() as client:
            health = client.get("/healthz").json()
            assert health["model"] == v2 and health["images"] == health["indexed_vectors"] == 1012 + UPLOADS + 1
            served = client.post("/search", files={"image": ("q.png", photo.read_bytes(), "image/png")},
                                 data={"k": "3"}).json()["results"]
        cli = json.loads(run_cli("--catalog", shop, "search", photo, "-k", "3", "--json").stdout)["results"]
        assert served[0]["id"] == cli[0]["id"] == "cli-added"
        assert [round(r["score"], 4) for r in served] == [round(r["score"], 4) for r in cli]

        # The CLI sees every upload, embedded with the active version.
        info = json.loads(run_cli("--catalog", shop, "info", "--json").stdout)
        assert info["model_key"] == v2 and info["images"] == info["indexed_vectors"] == 1012 + UPLOADS + 1
        with Catalog.open(shop) as catalog:
            assert set(acknowledged) <= set(catalog.store.embedding_ids(v2).tolist())
    counts = check_catalogue(shop)  # after the server stopped: images == indexed vectors, all embedded with v2
    rollback = run_cli("--catalog", shop, "models", "use", "imagenet", "--force", "--json")
    assert rollback.returncode == 0, rollback.stderr  # uploads are read back from the media store
    assert json.loads(rollback.stdout)["embedded"] == UPLOADS - written_before + 1  # those written with v2 only
    check_catalogue(shop)
    report("models use while serving", uploads=UPLOADS, acknowledged_before_the_cli_started=before_switch,
           written_before_the_switch=written_before, retried_503=retried, longest_upload_s=round(max(waits), 2),
           images=counts["images"])
