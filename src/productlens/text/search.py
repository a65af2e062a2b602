"""Text and text + photo queries over a catalogue (the engine calls these; they hold no I/O of their own).

A text query is answered by three rankings (see hybrid.py):
  keyword   FTS5 BM25 over title/description/category/attributes (fts.py)
  semantic  cosine between the query's and each product's sentence embedding (semantic.py)
  bridge    for products with no text of their own: the query mapped into image space by the
            ridge map fitted on the catalogue, compared with the product's mean image vector
Bridge and semantic scores are both cosines and are merged into one list by score; that list and
the keyword list are fused with reciprocal-rank fusion. The per-catalogue state (text matrix,
mean image vectors, the map) is rebuilt only when the catalogue's generation changes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ModelError, ProductLensError
from . import fts, semantic
from .hybrid import TextImageMap, blend, normalize_rows, rrf
from .port import TextSource

log = logging.getLogger(__name__)

Allowed = Callable[[str], bool] | None  # a predicate over product ids (None: every product)
Ranked = list[tuple[str, float, int]]  # (product id, score, best image id or -1), best first

POOL = 100  # candidates taken from each ranking before fusion
BLEND_BETA = 0.2  # weight of text relevance when blending; chosen on Grocery's val split (bench_text.py) ...
BLEND_BETA_MODEL = "efficientnet-lite0/imagenet"  # ... with this model's image cosines, so it holds for it alone
HYBRID = "hybrid-blend"  # calibration record (per model version): {"beta": weight of text relevance}
KEYWORD_BONUS = 0.1  # added to a keyword-matching product's text relevance when blending
MAX_FIT = 5000  # products used to fit the text -> image map
RIDGE_ALPHA = 0.1  # chosen on Grocery (benchmarks/bench_text.py, bridge part)


@dataclass
class TextState:
    generation: int
    text_ids: list[str]  # products with text of their own, rows of text_matrix
    text_matrix: np.ndarray
    image_ids: list[str]  # products with images, rows of image_means
    image_means: np.ndarray
    bridge_ids: list[str]  # products with images but no text: reached through the map
    bridge_rows: np.ndarray
    mapping: TextImageMap | None


class TextSearch:
    """Text retrieval for one catalogue; thread-safe, state cached per generation."""

    def __init__(self, catalog: TextSource) -> None:
        self.catalog = catalog
        self._lock = threading.Lock()
        self._state: TextState | None = None

    def encoder(self) -> semantic.TextEncoder:
        return semantic.get_encoder()

    def state(self) -> TextState:
        """The text matrix, image means and bridge as of the store's generation. A read: product
        text vectors are written by the engine's write path (semantic.sync_on_write), never here."""
        with self._lock:
            generation = self.catalog.generation
            if self._state is None or self._state.generation != generation:
                self._state = self._build(generation, self.encoder())
            return self._state

    def _build(self, generation: int, encoder: semantic.TextEncoder) -> TextState:
        products = {p.id: p for p in self.catalog.products()}
        ids, matrix = semantic.load_vectors(self.catalog, encoder.name)
        own = [i for i, pid in enumerate(ids) if pid in products and semantic.has_own_text(products[pid])]
        lacking = sum(semantic.has_own_text(p) for p in products.values()) - len(own)
        if lacking:
            log.warning("%d product(s) have no text vector yet: text search matches them by keywords and photos "
                        "only until a write command (add, update) computes them", lacking)
        text_ids, text_matrix = [ids[i] for i in own], matrix[own]
        image_ids, image_means = self._image_means()
        row_of = {pid: i for i, pid in enumerate(image_ids)}
        with_text = set(text_ids)
        bridge_ids = [pid for pid in image_ids if pid not in with_text]
        mapping = None
        fit = [pid for pid in text_ids if pid in row_of][:MAX_FIT]
        if bridge_ids and len(fit) >= 2:
            text_row = {pid: i for i, pid in enumerate(text_ids)}
            tx = text_matrix[[text_row[p] for p in fit]]
            mapping = TextImageMap.fit(tx, image_means[[row_of[p] for p in fit]], RIDGE_ALPHA)
        bridge_rows = image_means[[row_of[p] for p in bridge_ids]] if bridge_ids else np.zeros((0, 1), np.float32)
        return TextState(generation, text_ids, text_matrix, image_ids, image_means, bridge_ids, bridge_rows, mapping)

    def _image_means(self) -> tuple[list[str], np.ndarray]:
        """Unit mean image embedding per product (active model)."""
        model = self.catalog.active_model
        if model is None:
            return [], np.zeros((0, 1), np.float32)
        sums: dict[str, np.ndarray] = {}
        for owners, vectors in self.catalog.image_vectors_by_product(model.key):
            for pid, vector in zip(owners, vectors):
                if pid is not None:
                    sums[pid] = sums[pid] + vector if pid in sums else vector.astype(np.float32).copy()
        pids = sorted(sums)
        if not pids:
            return [], np.zeros((0, model.dim), np.float32)
        return pids, normalize_rows(np.stack([sums[p] for p in pids]))

    # --- rankings --------------------------------------------------------------------------

    def rankings(
        self, text: str, allowed: Callable[[str], bool] | None = None, pool: int = POOL, *, bridge: bool = True
    ) -> dict[str, list[tuple[str, float]]]:
        """The separate rankings for a text query: {'keyword'|'semantic'|'bridge': [(id, score)]}."""
        keep = allowed or (lambda pid: True)
        state = self.state()
        out: dict[str, list[tuple[str, float]]] = {}
        out["keyword"] = [h for h in fts.keyword_search(self.catalog, text, limit=max(pool * 5, 500)) if keep(h[0])][:pool]
        query = self.encoder().encode([text])[0]
        out["semantic"] = _top(state.text_ids, state.text_matrix @ query if len(state.text_ids) else np.zeros(0), keep, pool)
        if bridge and state.mapping is not None and state.bridge_ids:
            mapped = state.mapping(query)[0]
            out["bridge"] = _top(state.bridge_ids, state.bridge_rows @ mapped, keep, pool)
        return out

    def search(self, text: str, allowed: Allowed, k: int, *, mode: str = "auto") -> list[tuple[str, float]]:
        """The top k (product id, score) of a text query. mode "keyword" needs no sentence model;
        "auto" falls back to it (with a warning) when the sentence model is unavailable."""
        if mode == "keyword":
            hits = fts.keyword_search(self.catalog, text, limit=max(5 * k, 500))
            return [h for h in hits if allowed is None or allowed(h[0])][:k]
        try:
            return self.text_ranking(text, allowed, max(k, 100), mode=mode)[:k]
        except ModelError as exc:
            if mode != "auto":
                raise
            log.warning("semantic text search unavailable (%s); keyword results only", exc)
            return self.search(text, allowed, k, mode="keyword")

    def text_ranking(self, text: str, allowed: Allowed = None, pool: int = POOL,
                     *, mode: str = "auto") -> list[tuple[str, float]]:
        """Fused text ranking. mode: auto (all three, RRF), keyword, semantic, or text (no bridge)."""
        ranks = self.rankings(text, allowed, pool, bridge=mode == "auto")
        if mode in ("keyword", "semantic"):
            return ranks[mode]
        # Bridge cosines (mapped query vs mean image) share the semantic list by raw score: as a
        # separate RRF list they would rank every product without text below all with text.
        meaning = sorted(ranks["semantic"] + ranks.get("bridge", []), key=lambda h: -h[1])[:pool]
        return rrf([[pid for pid, _ in ranks["keyword"]], [pid for pid, _ in meaning]])[:pool]

    def text_relevance(self, text: str, candidates: list[str]) -> dict[str, float]:
        """Cosine-scale text relevance of given products (for blending with image cosines)."""
        state = self.state()
        query = self.encoder().encode([text])[0]
        rel: dict[str, float] = {}
        text_row = {pid: i for i, pid in enumerate(state.text_ids)}
        bridge_row = {pid: i for i, pid in enumerate(state.bridge_ids)}
        mapped = state.mapping(query)[0] if state.mapping is not None else None
        wanted = set(candidates)
        keyword = [h for h in fts.keyword_search(self.catalog, text, limit=10_000) if h[0] in wanted]
        top_kw = max((s for _, s in keyword), default=1.0)
        for pid in candidates:
            if pid in text_row:
                rel[pid] = float(state.text_matrix[text_row[pid]] @ query)
            elif mapped is not None and pid in bridge_row:
                rel[pid] = float(state.bridge_rows[bridge_row[pid]] @ mapped)
        for pid, score in keyword:
            rel[pid] = rel.get(pid, 0.0) + KEYWORD_BONUS * score / top_kw
        return rel

    def blend_weight(self) -> float | None:
        """The weight of text relevance against the active version's image cosines: fitted for it,
        or BLEND_BETA for the model it was chosen with; None for any other version (its cosines
        are on another scale, and a weight fitted on one model must not be read with another)."""
        model = self.catalog.active_model
        if model is None:
            return None
        record = self.catalog.get_calibration(model.key, HYBRID)
        if record is not None:
            return float(record.value["beta"])
        return BLEND_BETA if model.key.startswith(BLEND_BETA_MODEL + "/") else None

    def fuse(self, image_ranking: Ranked, text: str, k: int, allowed: Allowed, *, fusion: str = "blend",
             beta: float | None = None, pool: int = POOL) -> Ranked:
        """Photo + text: the photo's ranking (its top `pool` products) fused with the text's;
        (product id, fused score, best image id or -1), best first. Blending needs a weight that
        holds for the active version (`blend_weight`); without one, RRF ranks instead (one warning)."""
        image_score = {pid: score for pid, score, _ in image_ranking}
        best_image = {pid: image_id for pid, _, image_id in image_ranking}
        if fusion == "blend":
            beta = beta if beta is not None else self.blend_weight()
            if beta is None:
                log.warning("no photo + text blend weight fitted for the active model version; ranking by "
                            "reciprocal-rank fusion instead (or pass --fusion rrf to say so)")
                fusion = "rrf"
        if fusion == "blend":
            fused = blend(image_score, self.text_relevance(text, list(image_score)), beta)
        elif fusion == "rrf":
            fused = rrf([[pid for pid, _, _ in image_ranking], [p for p, _ in self.text_ranking(text, allowed, pool)]])
        else:
            raise ProductLensError(f"fusion must be rrf or blend, not {fusion!r}")
        return [(pid, score, best_image.get(pid, -1)) for pid, score in fused[:k]]


def _top(ids: list[str], scores: np.ndarray, keep: Callable[[str], bool], pool: int) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for i in np.argsort(-scores, kind="stable"):
        if keep(ids[i]):
            out.append((ids[i], float(scores[i])))
            if len(out) >= pool:
                break
    return out
