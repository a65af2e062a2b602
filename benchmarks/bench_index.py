"""Approximate indexes against exact FAISS at 10k / 100k / 1M vectors, in one run.

    python benchmarks/bench_index.py                       # synthetic + real, 10k and 100k
    python benchmarks/bench_index.py --sizes 1000000 --data real --kinds faiss-ivfpq
    python benchmarks/bench_index.py --quick               # 10k only, a minute or so
    python benchmarks/bench_index.py --milvus              # adds Milvus (real server) at <= 100k

For each data set and size: build time, bytes per vector, single-thread p50/p99 query latency
and recall@10 against exact search, with exact FAISS (IndexFlatIP) measured in the same run as
the baseline. ANN search parameters (efSearch / nprobe / re-rank factor) are tuned to
--recall on a separate set of tuning queries first. Data: `synthetic` (clustered vectors on a
low-dimensional manifold, 1280-d) or `real` (Grocery Store embeddings, augmented to size by
adding noise drawn from their own covariance). Vectors are generated in chunks into one
float32 array (1M x 1280 = 5 GB); exact ground truth is computed in chunks, never copied.
Writes a table, results JSON and a cost-vs-N plot (PNG) to --out.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from productlens.index import create_index, tune  # noqa: E402
from productlens.index import neighbour_recall  # noqa: E402
from productlens.index.ann import FaissAnnIndex  # noqa: E402
from productlens.index.rerank import rerank_exact  # noqa: E402

DIM = 1280
K = 10
TARGETS = {"recall": 0.95, "p99_ms": 5.0, "bytes": 300, "build_s": 600}  # at 1M vectors
DEFAULT_KINDS = {10_000: ["faiss-hnsw", "faiss-ivfpq"], 100_000: ["faiss-hnsw", "faiss-ivfpq"],
                 1_000_000: ["faiss-ivfpq"]}


def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
    return x


def synthetic(n: int, seed: int = 0, chunk: int = 50_000) -> np.ndarray:
    """Clustered vectors: 1000 centres in a 96-d latent space, mapped to 1280-d, plus noise."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(DIM, 96)))[0].T.astype(np.float32)  # 96 x 1280
    centres = rng.normal(size=(1000, 96)).astype(np.float32)
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, chunk):
        r = np.random.default_rng((seed, start))
        m = min(chunk, n - start)
        latent = centres[r.integers(0, 1000, m)] + 0.6 * r.normal(size=(m, 96)).astype(np.float32)
        out[start:start + m] = latent @ basis + 0.02 * r.normal(size=(m, DIM)).astype(np.float32)
        unit(out[start:start + m])
    return out


def real(n: int, seed: int = 0, chunk: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """Grocery train+test embeddings, each copy plus noise from their top-128 covariance; and queries."""
    from grocery_vectors import grocery_embeddings

    train, _, test, _ = grocery_embeddings()
    base = np.concatenate([train, test])
    mean = base.mean(0)
    _, s, vt = np.linalg.svd(base - mean, full_matrices=False)
    comps = (vt[:128] * (s[:128, None] / np.sqrt(len(base)))).astype(np.float32)  # 128 x 1280
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, chunk):
        r = np.random.default_rng((seed, start))
        m = min(chunk, n - start)
        out[start:start + m] = base[r.integers(0, len(base), m)] + 0.5 * r.normal(size=(m, 128)).astype(np.float32) @ comps
        unit(out[start:start + m])
    return out, comps


def queries_like(data: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Held-out-style queries: stored vectors moved by a little noise (not exact duplicates)."""
    r = np.random.default_rng(seed)
    q = data[r.integers(0, len(data), count)].copy()
    q += 0.05 * r.normal(size=q.shape).astype(np.float32) / np.sqrt(DIM) * 10
    return unit(q)


def exact_truth(data: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    _, ids = faiss.knn(queries, data, k, metric=faiss.METRIC_INNER_PRODUCT)
    return ids.astype(np.int64)


def latencies(search, queries: np.ndarray) -> tuple[float, float]:
    """Single-thread p50 / p99 in ms, one query at a time."""
    times = []
    for q in queries:
        t = time.perf_counter()
        search(q[None, :])
        times.append((time.perf_counter() - t) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def bench_exact(data: np.ndarray, queries: np.ndarray, lat_queries: int) -> dict:
    faiss.omp_set_num_threads(1)
    p50, p99 = latencies(lambda q: faiss.knn(q, data, K, metric=faiss.METRIC_INNER_PRODUCT), queries[:lat_queries])
    return {"kind": "exact (faiss flat)", "build_s": 0.0, "bytes_per_vector": 4 * DIM + 8, "p50_ms": p50,
            "p99_ms": p99, "recall@10": 1.0, "params": {}}


def exact_store(data: np.ndarray, folder: Path):
    """The full vectors in a SQLite table laid out like the catalogue's `embeddings` table, and a
    reader for the ids a re-ranking step asks for (the same query as CatalogStore.iter_embeddings)."""
    db = sqlite3.connect(str(folder / "vectors.db"), check_same_thread=False)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("CREATE TABLE embeddings (image_id INTEGER NOT NULL, model_key TEXT NOT NULL, vector BLOB NOT NULL,"
               " PRIMARY KEY (image_id, model_key))")
    for start in range(0, len(data), 20_000):
        db.executemany("INSERT INTO embeddings VALUES (?, 'm', ?)",
                       ((start + i, v.tobytes()) for i, v in enumerate(data[start:start + 20_000])))
    db.commit()

    def vectors_of(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows: list = []
        for s in range(0, len(ids), 500):
            chunk = [int(i) for i in ids[s:s + 500]]
            rows += db.execute(f"SELECT image_id, vector FROM embeddings WHERE model_key = 'm' AND image_id IN "
                               f"({','.join('?' * len(chunk))})", chunk).fetchall()
        return (np.fromiter((r[0] for r in rows), np.int64, len(rows)),
                np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), DIM))

    return vectors_of, (folder / "vectors.db").stat().st_size / len(data)


def measure(kind: str, index, search, eval_q, eval_truth, build: float, params: dict) -> dict:
    faiss.omp_set_num_threads(1)
    found = np.concatenate([search(eval_q[i:i + 64], K).ids for i in range(0, len(eval_q), 64)])
    p50, p99 = latencies(lambda q: search(q, K), eval_q)
    return {"kind": kind, "factory": index.factory, "build_s": build, "bytes_per_vector": index.nbytes() / len(index),
            "p50_ms": p50, "p99_ms": p99, "recall@10": neighbour_recall(found, eval_truth), "params": params}


def bench_faiss(kind: str, data: np.ndarray, tune_q, tune_truth, eval_q, eval_truth, target: float, threads: int,
                rerank: int, store) -> list[dict]:
    """One row for the index alone and, with `rerank` on a kind that stores compressed codes, one
    for the index + exact re-ranking of its top `rerank` candidates from `store` (SQLite)."""
    faiss.omp_set_num_threads(threads)
    ids = np.arange(len(data), dtype=np.int64)
    t = time.perf_counter()
    index = create_index(kind, DIM, **({} if kind == "faiss-hnsw" else {"train_size": 1}))
    assert isinstance(index, FaissAnnIndex)
    index.load_rows(ids, data)  # train once on everything (sampled by faiss), add everything
    build = time.perf_counter() - t
    margin = min(1.0, target + 0.01)  # a margin for held-out queries
    rows = [measure(kind, index, index.search, eval_q, eval_truth, build,
                    tune(index, tune_q, tune_truth, k=K, target=margin))]
    if rerank and index.lossy:  # what LiveIndex does: only compressed codes are re-ranked
        vectors_of, disk = store()

        def search(q: np.ndarray, k: int):
            return rerank_exact(q, index.search(q, max(k, rerank)), vectors_of, k)

        params = tune(index, tune_q, tune_truth, k=K, target=margin, search=search)
        rows.append(measure(f"{kind} + re-rank {rerank}", index, search, eval_q, eval_truth, build,
                            {**params, "disk_B/vec": round(disk)}))
    del index
    return rows


def bench_milvus(data: np.ndarray, eval_q, eval_truth) -> dict:
    import tempfile

    from productlens.index.milvus import start_local_server

    server, uri = start_local_server(tempfile.mkdtemp(prefix="milvus-bench-"))
    try:
        index = create_index(uri, DIM, collection="bench")
        t = time.perf_counter()
        for start in range(0, len(data), 2000):
            index.add(np.arange(start, min(start + 2000, len(data))), data[start:start + 2000])
        index.wait_until_indexed()  # build time = insert + flush + the server's HNSW build
        build = time.perf_counter() - t
        found = np.concatenate([index.search(eval_q[i:i + 16], K).ids for i in range(0, len(eval_q), 16)])
        p50, p99 = latencies(lambda q: index.search(q, K), eval_q)
        return {"kind": "milvus (HNSW, server)", "build_s": build, "bytes_per_vector": float("nan"), "p50_ms": p50,
                "p99_ms": p99, "recall@10": neighbour_recall(found, eval_truth), "params": {"ef": index.ef_search}}
    finally:
        server.stop()


def verdict(row: dict, n: int) -> str:
    if n < 1_000_000 or row["kind"].startswith("exact"):
        return ""
    misses = [name for name, ok in (("recall", row["recall@10"] >= TARGETS["recall"]),
                                     ("p99", row["p99_ms"] <= TARGETS["p99_ms"]),
                                     ("bytes", row["bytes_per_vector"] <= TARGETS["bytes"]),
                                     ("build", row["build_s"] <= TARGETS["build_s"])) if not ok]
    return "PASS" if not misses else "MISS " + ",".join(misses)


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    series: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        series.setdefault((r["data"], r["kind"]), []).append(r)
    for (data, kind), rs in sorted(series.items()):
        rs = sorted(rs, key=lambda r: r["n"])
        ns = [r["n"] for r in rs]
        style = "-" if data == "real" else "--"
        axes[0].plot(ns, [r["p99_ms"] for r in rs], style, marker="o", label=f"{kind} ({data})")
        axes[1].plot(ns, [r["bytes_per_vector"] for r in rs], style, marker="o", label=f"{kind} ({data})")
        axes[2].plot(ns, [r["build_s"] for r in rs], style, marker="o", label=f"{kind} ({data})")
    for ax, title in zip(axes, ("p99 latency, 1 thread (ms)", "bytes per vector", "build time (s)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("vectors (N)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].axhline(TARGETS["p99_ms"], color="red", lw=0.8)
    axes[1].axhline(TARGETS["bytes"], color="red", lw=0.8)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated N (e.g. 10000,100000,1000000)")
    ap.add_argument("--data", default="synthetic,real", help="synthetic, real or both")
    ap.add_argument("--kinds", help="comma-separated ANN kinds (default depends on N)")
    ap.add_argument("--recall", type=float, default=0.95, help="recall@10 target the parameters are tuned to")
    ap.add_argument("--queries", type=int, default=300, help="evaluation queries (latency and recall)")
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--rerank", type=int, default=64,
                    help="also each ANN kind + exact re-ranking of this many candidates from SQLite (0: off)")
    ap.add_argument("--milvus", action="store_true", help="also Milvus (real server) at sizes <= 100k")
    ap.add_argument("--quick", action="store_true", help="10k only, 100 queries")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    n_queries = 100 if args.quick else args.queries
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    header = f"{'data':9} {'N':>9} {'index':30} {'build s':>8} {'B/vec':>7} {'p50 ms':>8} {'p99 ms':>8} {'R@10':>6}  params"
    print(header)
    print("-" * len(header))
    for data_name in args.data.split(","):
        for n in sizes:
            data = synthetic(n) if data_name == "synthetic" else real(n)[0]
            tune_q, eval_q = queries_like(data, 200, 1), queries_like(data, n_queries, 2)
            faiss.omp_set_num_threads(args.build_threads)
            tune_truth, eval_truth = exact_truth(data, tune_q), exact_truth(data, eval_q)
            found = [bench_exact(data, eval_q, min(n_queries, 50 if n >= 1_000_000 else n_queries))]
            scratch = Path(tempfile.mkdtemp(prefix="bench-index-"))
            store_cache: list = []

            def store():  # built once per data set and size, when a re-ranking row first needs it
                if not store_cache:
                    store_cache.append(exact_store(data, scratch))
                return store_cache[0]

            for kind in (args.kinds.split(",") if args.kinds else DEFAULT_KINDS.get(n, ["faiss-ivfpq"])):
                found += bench_faiss(kind, data, tune_q, tune_truth, eval_q, eval_truth, args.recall,
                                     args.build_threads, args.rerank, store)
            if args.milvus and n <= 100_000:
                found.append(bench_milvus(data, eval_q, eval_truth))
            for row in found:
                row.update(data=data_name, n=n, verdict=verdict(row, n))
                rows.append(row)
                params = {k: v for k, v in row["params"].items() if k != "recall"}
                print(f"{data_name:9} {n:>9} {row['kind']:30} {row['build_s']:8.1f} {row['bytes_per_vector']:7.0f} "
                      f"{row['p50_ms']:8.2f} {row['p99_ms']:8.2f} {row['recall@10']:6.3f}  "
                      f"{row.get('factory', '')} {params} {row['verdict']}", flush=True)
            del data
            shutil.rmtree(scratch, ignore_errors=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"bench_index-{stamp}.json").write_text(json.dumps(rows, indent=1, default=str))
    plot(rows, args.out / f"bench_index-{stamp}.png")
    print(f"\nresults: {args.out}/bench_index-{stamp}.json, plot: bench_index-{stamp}.png")
    print(f"targets at 1M: recall@10 >= {TARGETS['recall']}, p99 <= {TARGETS['p99_ms']} ms (1 thread), "
          f"<= {TARGETS['bytes']} B/vector, build <= {TARGETS['build_s']} s")


if __name__ == "__main__":
    main()
