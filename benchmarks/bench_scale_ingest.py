"""Embedding-job throughput on the Grocery photos, and peak memory at 1x vs 10x the images.

    python benchmarks/bench_scale_ingest.py [--images 500] [--factor 10] [--shards 1]

Writes N distinct image files (Grocery train photos, each copy given a unique trailer after the
JPEG end marker so its content hash differs while decoding is unchanged) and runs the job
runner (`productlens.jobs.run_job` into a FileSink) over N and over factor x N of them, each in
a fresh process, reporting images/s and peak RSS. Flat memory means the 10x run peaks at about
the same RSS as the 1x run. The ingest goal of #2 (fp32, 2 cores) is printed alongside.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

INGEST_GOAL = 120.0  # images/s, fp32, from issue #2 (benchmarks/bench_ingest.py)


def make_images(folder: Path, count: int) -> Path:
    from grocery_vectors import split

    paths, _ = split("train")
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(count):
        src = paths[i % len(paths)]
        dst = folder / f"img-{i:07d}.jpg"
        if not dst.exists():
            dst.write_bytes(src.read_bytes() + f"\n#copy {i}\n".encode())
        lines.append(f"{dst},{src.parent.name}")
    listing = folder / f"list-{count}.txt"
    listing.write_text("\n".join(lines) + "\n")
    return listing


def _run(listing: str, out: str, shard: tuple[int, int], queue) -> None:
    from productlens import settings
    from productlens.jobs import FileSink, read_list, run_job
    from productlens.models import create_embedder

    embedder = create_embedder(str(settings.get("model")), "fp32")
    embedder.embed_arrays(embedder.prepare(__import__("PIL.Image").Image.new("RGB", (64, 64)))[None])  # warm up
    t = time.perf_counter()
    report = run_job(embedder, read_list(Path(listing), shard), FileSink(Path(out), shard, embedder.key), shard=shard)
    seconds = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"embedded": report.embedded, "seconds": seconds, "peak_rss_mb": peak_mb, "failed": len(report.failed)})


def run_in_process(listing: Path, out: Path, shard: tuple[int, int] = (1, 1)) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(str(listing), str(out), shard, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=500, help="N for the 1x run")
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "productlens-scale-ingest")
    args = ap.parse_args()
    rows = []
    for count in (args.images, args.images * args.factor):
        listing = make_images(args.work / "images", count)
        out = Path(tempfile.mkdtemp(prefix="job-", dir=args.work))
        r = run_in_process(listing, out)
        r.update(images=count, rate=r["embedded"] / r["seconds"])
        rows.append(r)
        print(f"{count:>7} images: {r['rate']:6.1f} img/s ({r['seconds']:.1f} s), peak RSS {r['peak_rss_mb']:.0f} MB, "
              f"{r['failed']} failed", flush=True)
        resumed = run_in_process(listing, out)
        print(f"{'':>7} re-run (resume): {resumed['embedded']} re-embedded in {resumed['seconds']:.1f} s", flush=True)
    growth = rows[1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    print(f"\npeak RSS at {args.factor}x the images: x{growth:.2f} of the 1x run ({'flat' if growth < 1.25 else 'NOT flat'})")
    print(f"throughput {rows[1]['rate']:.1f} img/s vs the #2 goal {INGEST_GOAL:.0f} img/s (fp32, 2 idle cores): "
          f"{'PASS' if rows[1]['rate'] >= INGEST_GOAL else 'MISS (rerun on a quiet machine)'}")
    (Path(__file__).parent / "results").mkdir(exist_ok=True)
    (Path(__file__).parent / "results" / f"bench_scale_ingest-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
