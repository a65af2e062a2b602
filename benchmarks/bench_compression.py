"""What compact vectors cost in retrieval quality on Grocery (R@1, mAP vs full fp32 vectors).

    python benchmarks/bench_compression.py [--model efficientnet-lite0]

Gallery: the train photos; queries: the test photos; a query's relevant items are the gallery
photos of its product (fine class). PCA and the quantisers are fitted on the gallery only.
Prints one row per variant: dimensions, bytes per vector, R@1 and mAP, and the change vs fp32.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from productlens.index.compress import Codec, PcaReducer, normalise  # noqa: E402


def quality(gallery: np.ndarray, g_labels: np.ndarray, queries: np.ndarray, q_labels: np.ndarray) -> tuple[float, float]:
    """R@1 and mAP (over the whole ranked gallery) of cosine retrieval."""
    sims = queries @ gallery.T
    order = np.argsort(-sims, axis=1)
    rel = g_labels[order] == q_labels[:, None]
    r1 = float(rel[:, 0].mean())
    hits = np.cumsum(rel, axis=1)
    ranks = np.arange(1, rel.shape[1] + 1)
    ap = (hits / ranks * rel).sum(1) / np.maximum(rel.sum(1), 1)
    return r1, float(ap.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="efficientnet-lite0")
    args = ap.parse_args()
    from grocery_vectors import grocery_embeddings

    g, gl, q, ql = grocery_embeddings(args.model)
    dim = g.shape[1]
    variants: list[tuple[str, int, int, np.ndarray, np.ndarray]] = [("fp32 (full)", dim, 4 * dim, g, q)]
    for kind in ("fp16", "int8"):
        codec = Codec(kind, dim).fit(g)
        variants.append((kind, dim, codec.bytes_per_vector, codec.decode(codec.encode(g)), codec.decode(codec.encode(q))))
    codec = Codec("pq", dim, pq_bytes=64).fit(g)
    variants.append(("PQ64x8", dim, 64, normalise(codec.decode(codec.encode(g))), q))
    for out, whiten in ((512, False), (256, False), (256, True), (128, False), (128, True), (64, False)):
        pca = PcaReducer.fit(g, out, whiten=whiten)
        rg, rq = pca.apply(g), pca.apply(q)
        name = f"PCA{out}{'+whiten' if whiten else ''}"
        variants.append((name, out, 4 * out, rg, rq))
        if out == 256:
            for kind in ("int8",):
                codec = Codec(kind, out).fit(rg)
                variants.append((f"{name}+{kind}", out, codec.bytes_per_vector, codec.decode(codec.encode(rg)), rq))
            codec = Codec("pq", out, pq_bytes=32).fit(rg)
            variants.append((f"{name}+PQ32x8", out, 32, normalise(codec.decode(codec.encode(rg))), rq))
    print(f"gallery {len(g)} train photos, {len(q)} test queries, {len(set(gl.tolist()))} products, model {args.model}")
    header = f"{'variant':24} {'dim':>5} {'B/vec':>6} {'R@1':>7} {'mAP':>7} {'dR@1':>7} {'dmAP':>7}"
    print(header)
    print("-" * len(header))
    base = None
    for name, d, nbytes, gv, qv in variants:
        r1, m = quality(gv, gl, qv, ql)
        base = base or (r1, m)
        print(f"{name:24} {d:5d} {nbytes:6d} {r1:7.4f} {m:7.4f} {r1 - base[0]:+7.4f} {m - base[1]:+7.4f}")
    print("\nquery vectors stay fp32 (asymmetric distance); PQ / int8 only change what is stored.")


if __name__ == "__main__":
    main()
