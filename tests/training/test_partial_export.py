"""The partial recipe's version is the whole adapted network in one ONNX graph: it embeds a photo
as the torch network it was exported from does, and as the trained tail did on the cached
activations; the INT8 copy stays close to it."""

from __future__ import annotations

import json

import numpy as np

from productlens import Catalog
from productlens.catalog.ingest import read_source
from productlens.images import load_image
from productlens.models.embedder import open_session
from productlens.models.export import INPUT_NAME
from productlens.models.transforms import prepare
from productlens.training import TrainConfig
from productlens.training.data import catalogue_samples
from productlens.training.partial_recipe import train_partial
from productlens.training.versions import save_version

# Tolerances on unit embeddings. fp32 ONNX vs the torch module it came from: float rounding only.
# The trained tail saw float16 activations of the front (about 3 significant digits).
EXPORT_ATOL = 1e-4
CACHED_ATOL = 1e-2


def test_the_exported_whole_network_embeds_as_torch_and_as_the_trained_tail(look_alike):
    import torch

    shop, queries = look_alike
    config = TrainConfig(recipe="partial", epochs=2, views=2, backbone="efficientnet-lite0", crop=0.875, hidden=0,
                         flip_tta=False, cut="shallow", precision="int8").resolved()
    with Catalog.open(shop) as catalog:
        port = catalog.training_port
        data = catalogue_samples(port, list(read_source(queries)), config.val_fraction, config.seed)
        fitted = train_partial(port, data, config, None)
        assert fitted.metrics["unfreeze_blocks"] == 2 and fitted.metrics["cut_after_block"] == 14
        key = save_version(port, fitted, data, config)
        folder = catalog.versions.models_dir / key.split("/")[1]
        fold = fitted.folds[0]
        photos = fold.val[:6]
        batch = np.stack([prepare(load_image(s.source).image, fitted.preprocess) for s in photos])
        (exported,) = open_session(folder / "model.fp32.onnx").run(None, {INPUT_NAME: batch})
        with torch.no_grad():
            in_torch = fitted.module(torch.from_numpy(batch)).numpy()
        np.testing.assert_allclose(exported, in_torch, atol=EXPORT_ATOL)
        np.testing.assert_allclose(exported, fold.replay.val_emb[:6], atol=CACHED_ATOL)
        assert exported.shape == (6, 512)  # the version's embedding, as a head-recipe version's
        (int8,) = open_session(folder / "model.int8.onnx").run(None, {INPUT_NAME: batch})
        assert float(np.mean(np.sum(int8 * exported, axis=1))) > 0.9
        meta = json.loads((folder / "version.json").read_text())
        assert meta["recipe"] == "partial" and meta["config"]["cut"] == "shallow"
