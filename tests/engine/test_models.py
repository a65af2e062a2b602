"""Model versions on the fast tier: activating another version (embed what it lacks, switch in one
write), rolling back, refusing to lose images, and another open catalogue following the switch."""

from __future__ import annotations

import io

import pytest
from tiny import add_version, product_photo

from productlens import Catalog
from productlens.errors import ActivationRefusedError, ModelChangedError, TrainingError

pytestmark = pytest.mark.fast


def test_activate_switches_every_open_catalogue_and_rolls_back(fast_catalog, fast_queries):
    with Catalog.open(fast_catalog) as writer, Catalog.open(fast_catalog) as reader:
        key = add_version(writer, "v2")
        assert reader.search(fast_queries["red-blue"], k=1)[0].product.id == "red-blue"  # on the first version
        with pytest.raises(ActivationRefusedError, match="no validation photos"):
            writer.versions.activate("v2")  # nothing shows it is better
        assert writer.info()["model_key"] == "tiny-test/imagenet/fp32"
        assert len(writer.store.embedding_ids(key)) == 12  # embedded to compare, and kept for next time
        report = writer.versions.activate("v2", force=True)
        assert report.switched and report.embedded == 0 and report.reused == 0 and not report.missing_sources
        assert writer.info()["model_key"] == key and writer.info()["indexed_vectors"] == 12
        # The other catalogue object notices the switch and reloads embedder and index for v2.
        assert reader.searcher.embed_query(fast_queries["red-blue"]).shape == (12,)
        assert reader.search(fast_queries["red-blue"], k=1)[0].product.id == "red-blue"
        assert reader.info()["model_key"] == key and reader.info()["dim"] == 12
        rows = {r["version"]: r for r in reader.versions.describe()}
        assert rows["v2"]["active"] and not rows["imagenet"]["active"] and rows["v2"]["embedded_images"] == 12
        recalibrated = {r["name"]: r for r in report.recalibrated}
        assert recalibrated["recognition"]["stale"]  # one burst per product: no honest calibration
        back = writer.versions.activate("imagenet", force=True)  # its embeddings are all still there
        assert back.switched and back.embedded == 0
        assert writer.versions.activate("imagenet").switched is False  # already active: nothing to do
        assert reader.searcher.embed_query(fast_queries["red-blue"]).shape == (48,)


def test_a_version_that_would_lose_images_is_refused(fast_catalog, fast_photos, fast_queries):
    with Catalog.open(fast_catalog) as shop:
        add_version(shop, "v3", cell=8)
        gone = next(fast_photos.glob("black-white/*.jpg"))
        moved = gone.with_suffix(".moved")
        gone.rename(moved)
        try:
            with pytest.raises(TrainingError, match="could not be embedded"):
                shop.versions.activate("v3", force=True)
            assert shop.info()["model_key"] == "tiny-test/imagenet/fp32"  # nothing switched
            report = shop.versions.activate("v3", allow_missing=True, force=True)
            assert report.switched and report.missing_sources == [str(gone)]
            assert shop.search(fast_queries["black-white"], k=1)[0].product.id == "black-white"
        finally:
            moved.rename(gone)
        with pytest.raises(TrainingError, match="no model version"):
            shop.versions.activate("v-missing")


def test_activation_reads_uploads_from_the_media_store(fast_catalog, fast_queries):
    """Issue #12.4: an uploaded photo's source is `upload:<sha>`, its bytes in the media folder;
    `models use` read that source as a file path and refused to switch."""
    photo = product_photo("red-blue", 4242)
    buf = io.BytesIO()
    photo.save(buf, "PNG")
    with Catalog.open(fast_catalog) as shop:
        image_id = shop.add_upload("red-blue", buf.getvalue())
        assert shop.get_images(image_ids=[image_id])[0].source.startswith("upload:")
        add_version(shop, "v2")
        report = shop.versions.activate("v2", force=True)
        assert report.switched and report.embedded == 13 and not report.missing_sources and not report.failed
        assert shop.info()["indexed_vectors"] == shop.info()["images"] == 13
        assert shop.search(fast_queries["red-blue"], k=1)[0].product.id == "red-blue"


def test_a_query_embedded_before_another_process_switched_is_refused_not_mixed(fast_catalog, fast_queries):
    with Catalog.open(fast_catalog) as writer, Catalog.open(fast_catalog) as server:
        embedder = server.embedder()
        vector = server.searcher.embed_query(fast_queries["red-blue"], embedder=embedder)  # the old model's 48-d vector
        add_version(writer, "v2", cell=8)  # the same width: only the key can tell the two spaces apart
        writer.versions.activate("v2", force=True)
        with pytest.raises(ModelChangedError, match="switched to model tiny-test/v2/fp32"):
            server.searcher.vector(vector, k=1, model_key=embedder.key)
        assert server.search(fast_queries["red-blue"], k=1)[0].product.id == "red-blue"  # embedded again with v2
        assert server.active.pair()[0].key == "tiny-test/v2/fp32"
