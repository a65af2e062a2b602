"""Loopback load test of the REST API: POST /search at concurrency 1, 4, 16 while a writer adds images.

    python benchmarks/bench_serve.py [--requests 300] [--concurrency 1 4 16] [--max-seconds 60]

Builds the Grocery Store train-split catalogue once into a cache folder (reused later), serves
a temporary copy of it with `productlens serve` in its own process (the real server: uvicorn,
FastAPI, default options), and sends test-split photos from client threads over loopback, each
thread with its own keep-alive connection. During every level a writer POSTs validation photos
to a new product (images really added: embedded, committed, indexed). Reports QPS and
p50/p95/p99 per level plus every error (the target is 0).

Baselines in the same run: `Catalog.search` called in-process one query at a time (no HTTP),
and the highest level again with micro-batching on (`serve --max-batch 16`; the default is off).
Targets: p50 <= 25 ms at c=1; >= 60 searches/s at c=16 (2 cores). Note the load generator
shares the machine's cores with the server, so the figures understate a dedicated server.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from productlens import Catalog, settings
from productlens.catalog.datasets import grocery_store_rows, write_grocery_csv

P50_TARGET_MS = 25.0
QPS_TARGET = 60.0
KEY = "bench-key"


def grocery_catalog(cache: Path, root: Path) -> Path:
    """The train-split catalogue, built once (a few minutes on 2 cores) and reused."""
    path = cache / "grocery-train-fp32"
    if (path / "catalog.db").exists():
        return path
    print(f"building the Grocery catalogue once into {path} ...", flush=True)
    tmp = path.with_name(path.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    csv = cache / "grocery-train.csv"  # kept: the image sources recorded in the catalogue are relative to it
    write_grocery_csv(root, "train", csv)
    started = time.perf_counter()
    with Catalog.open(tmp / "shop", create=True) as shop:
        report = shop.add(csv)
    print(f"  {report.added} images in {time.perf_counter() - started:.0f} s", flush=True)
    os.replace(tmp / "shop", path)
    shutil.rmtree(tmp, ignore_errors=True)
    return path


def photos(root: Path, split: str, n: int) -> list[Path]:
    rows = [image for _, image, _ in grocery_store_rows(root, split)]
    step = max(1, len(rows) // n)
    return rows[::step][:n]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`productlens serve` in its own process."""

    def __init__(self, catalog: Path, max_batch: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "productlens", "--catalog", str(catalog), "-q", "serve", "--port", str(self.port),
               "--api-key", KEY, "--max-batch", str(max_batch)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 180
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Writer(threading.Thread):
    """Adds validation photos to a fresh product, one after another, until stopped."""

    def __init__(self, url: str, images: list[bytes], pause_s: float) -> None:
        super().__init__(daemon=True)
        self.url, self.images, self.pause_s = url, images, pause_s
        self.added, self.errors = 0, []
        self.stop_event = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers={"X-API-Key": KEY}, timeout=60) as c:
            pid = f"bench-writer-{os.getpid()}-{int(time.time())}"
            c.post("/products", json={"id": pid, "title": "added during the load test", "category": "Bench"})
            i = 0
            while not self.stop_event.is_set() and i < len(self.images):
                r = c.post(f"/products/{pid}/images", files={"image": (f"{i}.jpg", self.images[i])})
                if r.status_code not in (200, 201):
                    self.errors.append(f"{r.status_code}: {r.text[:200]}")
                else:
                    self.added += 1
                i += 1
                self.stop_event.wait(self.pause_s)


def load_level(url: str, queries: list[bytes], concurrency: int, requests: int, max_seconds: float) -> dict:
    """`requests` searches spread over `concurrency` threads (or until max_seconds)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.monotonic() + max_seconds

    def worker(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            c.post("/search", files={"image": ("w.jpg", queries[offset % len(queries)])}, data={"k": "10"})  # warm
            barrier.wait()
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                started = time.perf_counter()
                try:
                    r = c.post("/search", files={"image": ("q.jpg", queries[i % len(queries)])}, data={"k": "10"})
                    ok = r.status_code == 200 and len(r.json()["results"]) == 10
                    problem = None if ok else f"{r.status_code}: {r.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if problem:
                        errors.append(problem)

    barrier = threading.Barrier(concurrency + 1)
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ms = np.asarray(latencies)
    return {"concurrency": concurrency, "requests": len(ms), "errors": len(errors), "error_samples": errors[:3],
            "qps": len(ms) / wall, "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)), "seconds": wall}


def in_process_baseline(catalog: Path, queries: list[Path], n: int) -> dict:
    """Catalog.search in-process, one query at a time: what HTTP + serving add to."""
    with Catalog.open(catalog) as shop:
        shop.search(queries[0], k=10)
        times = []
        for photo in (queries * (n // len(queries) + 1))[:n]:
            started = time.perf_counter()
            shop.search(photo, k=10)
            times.append((time.perf_counter() - started) * 1000)
    ms = np.asarray(times)
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "qps": 1000.0 / float(ms.mean())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(str(settings.get("grocery_root"))))
    parser.add_argument("--cache", type=Path, default=Path(str(settings.get("cache_dir"))) / "bench",
                        help="Where the Grocery catalogue is built once.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=300, help="Searches per level.")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="Time cap per level.")
    parser.add_argument("--writer-pause", type=float, default=0.5, help="Seconds between the writer's adds.")
    parser.add_argument("--no-baseline", action="store_true", help="Skip the in-process and micro-batched comparison runs.")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "serve.json")
    args = parser.parse_args()

    source = grocery_catalog(args.cache, args.root)
    query_paths = photos(args.root, "test", 100)
    queries = [p.read_bytes() for p in query_paths]
    new_images = [p.read_bytes() for p in photos(args.root, "val", 300)]
    results: dict = {"cpu_count": os.cpu_count(), "levels": [], "targets": {"p50_ms_c1": P50_TARGET_MS, "qps_c16": QPS_TARGET}}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_baseline:
            results["baseline_in_process"] = in_process_baseline(source, query_paths, 100)
        runs = [("default", 0, args.concurrency)]
        if not args.no_baseline:
            runs.append(("batched16", 16, [max(args.concurrency)]))
        for label, max_batch, levels in runs:
            catalog = Path(tmp) / label
            shutil.copytree(source, catalog)
            server = Server(catalog, max_batch)
            try:
                for c in levels:
                    writer = Writer(server.url, new_images, args.writer_pause)
                    writer.start()
                    level = load_level(server.url, queries, c, args.requests, args.max_seconds)
                    writer.stop_event.set()
                    writer.join(timeout=60)
                    level.update(mode=label, writer_added=writer.added, writer_errors=len(writer.errors),
                                 writer_error_samples=writer.errors[:3])
                    results["levels"].append(level)
                    print(f"{label:10s} c={c:<3d} {level['requests']:4d} searches  {level['qps']:6.1f}/s  "
                          f"p50 {level['p50_ms']:6.1f} ms  p95 {level['p95_ms']:6.1f} ms  p99 {level['p99_ms']:6.1f} ms  "
                          f"errors {level['errors']}  (writer added {writer.added}, errors {len(writer.errors)})",
                          flush=True)
            finally:
                server.stop()
    if "baseline_in_process" in results:
        b = results["baseline_in_process"]
        print(f"baseline  in-process Catalog.search, 1 at a time: p50 {b['p50_ms']:.1f} ms  p95 {b['p95_ms']:.1f} ms  "
              f"({b['qps']:.1f}/s)")
    main_run = {lv["concurrency"]: lv for lv in results["levels"] if lv["mode"] == "default"}
    verdicts = []
    if 1 in main_run:
        verdicts.append(("p50 at c=1", main_run[1]["p50_ms"], P50_TARGET_MS, main_run[1]["p50_ms"] <= P50_TARGET_MS, "ms <="))
    if 16 in main_run:
        verdicts.append(("QPS at c=16", main_run[16]["qps"], QPS_TARGET, main_run[16]["qps"] >= QPS_TARGET, "/s >="))
    for name, value, target, ok, unit in verdicts:
        print(f"target {name}: {value:.1f} (target {unit.split()[1]} {target:g} {unit.split()[0]}) {'MET' if ok else 'MISSED'}")
    total_errors = sum(lv["errors"] + lv["writer_errors"] for lv in results["levels"])
    print(f"errors in all levels: {total_errors}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 1 if total_errors else 0


if __name__ == "__main__":
    sys.exit(main())
