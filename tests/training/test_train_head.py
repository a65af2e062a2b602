"""Real training on a small look-alike catalogue: the loss falls, retrieval improves over the
untrained model, a saved version reloads with identical embeddings, switching versions works."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from productlens import Catalog
from productlens.catalog.ingest import read_source
from productlens.errors import TrainingError
from productlens.images import load_image
from productlens.training import TrainConfig

FIXED = dict(backbone="efficientnet-lite0", crop=0.65, hidden=1024, flip_tta=False, recipe="head")  # no search
CONFIG = TrainConfig(epochs=15, views=4, **FIXED)


@pytest.fixture(scope="module")
def trained(look_alike_template, tmp_path_factory):
    """The look-alike catalogue after one head-recipe run and activation, plus eval before/after."""
    import shutil

    shop, queries = look_alike_template
    path = tmp_path_factory.mktemp("trained") / "shop"
    shutil.copytree(shop, path)
    items = list(read_source(queries))
    with Catalog.open(path) as catalog:
        before = catalog.evaluate(items, baselines=(), latency_samples=1).metrics["methods"]["active: imagenet"]
        result = catalog.train(CONFIG)
        report = catalog.versions.activate(result.version, force=True)
        after = catalog.evaluate(items, baselines=(), latency_samples=1).metrics["methods"]
    return path, queries, result, report, before, next(iter(after.values()))


def test_loss_falls_and_retrieval_improves(trained):
    _, _, result, _, before, after = trained
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < 0.6 * losses[0]
    assert after["R@1"] > before["R@1"]
    assert after["mAP"] > before["mAP"] + 0.05
    assert after["coarse_top1"] >= 0.9  # apples vs milk


def test_version_files_and_registration(trained):
    path, _, result, report, _, _ = trained
    backbone, version, precision = result.version.split("/")
    folder = path / "models" / version
    for name in ("model.fp32.onnx", "head.npz", "version.json", "curves.png", "history.json"):
        assert (folder / name).exists(), name
    meta = json.loads((folder / "version.json").read_text())
    assert meta["classes"] == sorted(meta["classes"]) and len(meta["classes"]) == 8
    assert meta["categories"] == ["Apple", "Milk"]
    assert meta["config"]["views"] == 4 and meta["recognition"]["mode"] in ("classifier", "knn", "blend")
    # The modes and the category mode were chosen on the validation photos, and recorded.
    assert set(meta["recognition"]["val_top1"]) == {"classifier", "knn", "blend"}
    assert meta["recognition"]["coarse_mode"] in ("proxies", "products", "both")
    # What validated the version (8 products x 10 photos is too few to hold groups out: each photo
    # is validated once, by a model trained without its burst group), what it was compared with.
    assert meta["validation"]["kind"] == "cross-validation" and meta["validation"]["folds"] == 3
    assert meta["recognition"]["calibration"]["source"] == ("80 photos, 3-fold cross-validation over burst groups, each with its own "
                                                             "product's fold of products hidden")
    assert len(meta["validation"]["photos"]) == meta["metrics"]["val_images"] == 80
    assert all("image" in p for p in meta["validation"]["photos"])
    assert meta["comparison"]["against"] == "efficientnet-lite0/imagenet/fp32"
    assert meta["comparison"]["verdict"] in ("better", "not better", "saturated")
    assert meta["candidates"] == []  # every setting was given: nothing searched
    assert meta["preprocess"]["resize_size"] == round(meta["preprocess"]["input_size"] / meta["config"]["crop"])
    assert report.embedded == 80 and report.switched
    with Catalog.open(path) as catalog:
        rows = {r["version"]: r for r in catalog.versions.describe()}
    assert rows[version]["active"] and not rows["imagenet"]["active"]


def test_reloaded_version_gives_identical_embeddings(trained):
    path, queries, result, _, _, _ = trained
    photo = next(iter(read_source(queries))).image
    with Catalog.open(path) as catalog:
        first = catalog.searcher.embed_query(photo)
        model = catalog.versions.active
        image = catalog.store.get_images()[0]
        stored = next(catalog.store.iter_embeddings(model.key, [image.id]))[1][0]
        embedder = catalog.embedder()
        fresh = embedder.embed([load_image(image.source, draft_size=embedder.draft_size).image])[0]
    with Catalog.open(path) as again:
        assert again.versions.active.key == result.version
        assert again.embedder().dim == CONFIG.dim
        np.testing.assert_array_equal(again.searcher.embed_query(photo), first)
    np.testing.assert_allclose(fresh, stored, atol=1e-6)


def test_recognize_uses_trained_classifier(trained):
    path, queries, _, _, _, _ = trained
    items = list(read_source(queries))
    with Catalog.open(path) as catalog:
        results = [catalog.recognize(it.image) for it in items]
    right = [r.candidates[0].product.id == it.product.id for r, it in zip(results, items)]
    assert np.mean(right) >= 0.6
    assert all(r.category in ("Apple", "Milk") for r in results)
    assert all(0.0 <= r.confidence <= 1.0 and 0.0 < r.score <= 1.0 for r in results)


@pytest.mark.parametrize("mode, coarse_mode", [("classifier", "proxies"), ("knn", "products"), ("blend", "both")])
def test_every_recognition_mode_names_a_product(trained, tmp_path, mode, coarse_mode):
    import shutil

    path, queries, result, _, _, _ = trained
    shop = tmp_path / "shop"
    shutil.copytree(path, shop)
    items = list(read_source(queries))[::4]
    with Catalog.open(shop) as catalog:
        record = catalog.store.get_calibration(result.version, "recognition")  # the version's recogniser
        catalog.store.put_calibration(result.version, "recognition",
                                      {**record.value, "mode": mode, "coarse_mode": coarse_mode}, record.fitted_on)
        results = [catalog.recognize(it.image, k=3) for it in items]
    assert all(len(r.candidates) == 3 and 0.0 < r.score <= 1.0 for r in results)
    assert np.mean([r.candidates[0].product.id == it.product.id for r, it in zip(results, items)]) >= 0.5
    assert np.mean([r.category == r.candidates[0].product.category for r in results]) >= 0.75
    assert all(0.0 < r.category_confidence <= 1.0 for r in results)


def test_rollback_and_missing_source_refused(trained, tmp_path):
    import shutil

    path, queries, result, _, _, _ = trained
    shop = tmp_path / "shop"
    shutil.copytree(path, shop)
    photo = next(iter(read_source(queries))).image
    with Catalog.open(shop) as catalog:
        with pytest.raises(TrainingError, match="not activated"):
            catalog.versions.activate("imagenet")  # rolling back is compared on the version's validation photos
        catalog.versions.activate("imagenet", force=True)  # roll back: its embeddings are still there
        assert catalog.versions.active.version == "imagenet"
        assert catalog.searcher.embed_query(photo).shape == (1280,)
        assert catalog.search(photo, k=3)
        # A version that must re-embed an image whose file is gone is refused, nothing switched.
        image = catalog.store.get_images()[0]
        with catalog.store.transaction() as db:
            db.execute("UPDATE images SET source = ? WHERE id = ?", (str(tmp_path / "gone.jpg"), image.id))
            db.execute("DELETE FROM embeddings WHERE image_id = ? AND model_key = ?", (image.id, result.version))
        with pytest.raises(TrainingError, match="could not be embedded"):
            catalog.versions.activate(result.version.split("/")[1], force=True)
        assert catalog.versions.active.version == "imagenet"
        rep = catalog.versions.activate(result.version, allow_missing=True, force=True)
        assert rep.missing_sources == [str(tmp_path / "gone.jpg")] and rep.switched
    with pytest.raises(TrainingError, match="no model version"):
        with Catalog.open(shop) as catalog:
            catalog.versions.activate("ft-nope")


def test_bad_settings_are_refused(look_alike):
    shop, _ = look_alike
    with Catalog.open(shop) as catalog:
        for bad in (TrainConfig(recipe="nope"), TrainConfig(optimizer="rmsprop"), TrainConfig(loss="x"),
                    TrainConfig(epochs=0)):
            with pytest.raises(TrainingError):
                catalog.train(bad)
        assert [m.version for m in catalog.store.list_models()] == ["imagenet"]
        assert not os.path.exists(shop / "models")


def test_a_last_batch_of_one_image_is_skipped_not_a_crash(look_alike):
    """The MLP head's BatchNorm cannot train on one sample; a catalogue whose size leaves one
    image over after the last full batch must still train."""
    from productlens.training.data import catalogue_samples

    shop, _ = look_alike
    with Catalog.open(shop) as catalog:
        n_train = len(catalogue_samples(catalog.training_port, None, 0.15, 0).train)
        result = catalog.train(TrainConfig(epochs=1, views=1, batch_size=n_train - 1, **FIXED))
    assert result.history and result.history[0]["train_loss"] > 0


def test_int8_version_tracks_its_fp32_graph(look_alike):
    """`train --int8`: the quantised graph is what search uses, and it embeds like the fp32 one."""
    from productlens.models.trained import load_embedder_file
    from productlens.models.transforms import PreprocessConfig

    shop, queries = look_alike
    photos = [line.split(",")[1] for line in queries.read_text().splitlines()[1:9]]
    with Catalog.open(shop) as catalog:
        result = catalog.train(TrainConfig(epochs=2, views=1, precision="int8", **FIXED))
        assert result.version.endswith("/int8")
        catalog.versions.activate(result.version, force=True)
        record = catalog.versions.active
        assert record.info["onnx"].endswith("model.int8.onnx") and record.precision == "int8"
        fp32 = load_embedder_file(shop / record.info["onnx"].replace("int8", "fp32"), record.name, record.version,
                                  record.dim, PreprocessConfig.from_dict(record.preprocess))
        quantised = np.stack([catalog.searcher.embed_query(p) for p in photos])
        full = fp32.embed([load_image(p).image for p in photos])
    cosine = (quantised * full).sum(1) / np.linalg.norm(quantised, axis=1) / np.linalg.norm(full, axis=1)
    assert cosine.min() > 0.95, cosine
