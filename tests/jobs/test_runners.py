"""Runners on real engines: a Dask LocalCluster and a local Ray of two workers each, the local pool
killed with kill -9 mid-run, and a partition that keeps failing (retried, then reported)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from processes import children, cli_command, processes_matching, run_cli, wait_until_gone

from productlens.jobs import iter_shard_rows, read_skipped, run_partitions
from productlens.jobs.runners import LOCAL_CLUSTER_CONFIG, Job, make_backend
from productlens.jobs.shards import read_report, shard_path

PHOTOS = 36
BAD = {"truncated.jpg": "corrupt", "notes.jpg": "not-an-image", "nowhere.jpg": "unreadable"}


def check_every_photo_once(out, report, job_photos) -> None:
    """Every photo embedded exactly once, the bad inputs reported with their reasons, and the model
    loaded once per worker process (not per partition)."""
    rows = [(pid, sha) for batch in iter_shard_rows(out) for pid, sha in zip(batch.product_ids, batch.sha256s)]
    assert len(rows) == len(set(rows)) == PHOTOS
    assert sorted({pid for pid, _ in rows}) == sorted(p.name for p in job_photos.iterdir())
    skipped = {s["source"].rsplit("/", 1)[-1]: s["reason"] for s in read_skipped(out)}
    assert skipped == BAD
    ran = [r for r in report.finished if not r.already_done]
    workers = {r.worker for r in ran}
    assert len(ran) == report.partitions and not report.failed
    assert sum(r.loaded_model for r in ran) == len(workers) <= 2 < len(ran)
    for r in ran:  # the caller's peak counts the shard's writing, the shard's copy was taken before it
        assert r.cpu_seconds > 0 and 0 < read_report(shard_path(out, r.part, r.n_parts))["peak_rss_mb"] <= r.peak_rss_mb


def test_dask_local_cluster_embeds_each_photo_once(photo_manifest, tiny_ref, job_photos, tmp_path):
    before, environ = set(children()), dict(os.environ)
    report = run_partitions(photo_manifest, tmp_path / "out", tiny_ref, runner="dask", partitions=6, workers=2)
    check_every_photo_once(tmp_path / "out", report, job_photos)
    assert report.to_dict()["embedded"] == PHOTOS
    # the LocalCluster's nannies set MALLOC_TRIM_THRESHOLD_, OMP_NUM_THREADS... here; they must not stay
    assert dict(os.environ) == environ
    assert wait_until_gone(lambda: sorted(set(children()) - before)) == []  # the cluster's processes are gone


def test_ray_local_embeds_each_photo_once(photo_manifest, tiny_ref, job_photos, tmp_path, tmp_path_factory):
    ray = pytest.importorskip("ray")
    temp = tmp_path_factory.mktemp("ray")  # short: Ray's socket paths must stay under 107 bytes
    report = run_partitions(photo_manifest, tmp_path / "out", tiny_ref, runner="ray", partitions=6, workers=2,
                            temp_dir=str(temp))
    check_every_photo_once(tmp_path / "out", report, job_photos)
    assert any(temp.iterdir())  # Ray's session files went under the test's temp dir
    assert not ray.is_initialized()
    assert wait_until_gone(lambda: processes_matching(str(temp))) == []  # raylet, GCS and workers are gone


def test_ray_workers_run_at_the_drivers_priority(photo_manifest, tiny_ref, tmp_path, tmp_path_factory):
    """Ray starts its workers 15 nice levels down by default: on a shared machine they got a
    fraction of the CPU the local runner's processes get."""
    pytest.importorskip("ray")
    job = Job(str(photo_manifest), 1, tiny_ref, str(tmp_path / "out"))
    backend = make_backend("ray", job, 1, None, str(tmp_path_factory.mktemp("ray")))
    try:
        # a lambda travels by value: this test module is not importable in Ray's workers
        worker = backend.ray.get(backend.ray.remote(num_cpus=1)(lambda: os.nice(0)).remote())
    finally:
        backend.close()
    assert worker == os.nice(0)


def test_dask_local_cluster_workers_run_with_its_settings(photo_manifest, tiny_ref, tmp_path):
    """The LocalCluster's workers get LOCAL_CLUSTER_CONFIG (set only while it starts)."""
    import dask

    job = Job(str(photo_manifest), 1, tiny_ref, str(tmp_path / "out"))
    backend = make_backend("dask", job, 1, None, None)
    try:
        seen = backend.client.run(lambda: {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG})
    finally:
        backend.close()
    assert list(seen.values()) == [LOCAL_CLUSTER_CONFIG]
    assert dask.config.get("distributed.admin.tick.interval") != "1s"  # ours, not the caller's


def test_rerun_skips_finished_partitions(photo_manifest, tiny_ref, tmp_path):
    first = run_partitions(photo_manifest, tmp_path / "out", tiny_ref, partitions=4, workers=1)
    again = run_partitions(photo_manifest, tmp_path / "out", tiny_ref, partitions=4, workers=1)
    assert first.embedded == PHOTOS and again.embedded == 0
    assert all(r.already_done for r in again.finished) and len(again.finished) == 4


def slow_manifest(folder, count: int = 48):
    """Large PNG photos (no JPEG draft decoding), so that one worker takes seconds over them."""
    from PIL import Image
    from tiny import PRODUCTS, product_photo

    folder.mkdir()
    rows = ["product_id,image"]
    for i in range(count):
        product = list(PRODUCTS)[i % len(PRODUCTS)]
        product_photo(product, 7000 + i).resize((1600, 1200), Image.Resampling.NEAREST).save(folder / f"{i}.png")
        rows.append(f"{product},{i}.png")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return folder / "manifest.csv"


def test_kill_9_mid_run_then_rerun_uses_only_finished_shards(tmp_path, tiny_model):
    manifest, out = slow_manifest(tmp_path / "photos"), tmp_path / "out"
    args = ["embed", manifest, "-o", out, "--model", tiny_model, "--partitions", 16, "--workers", 1, "--json"]
    proc = subprocess.Popen(cli_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("part-*.parquet"))) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its pool worker, mid-partition
    proc.wait()
    finished = sorted(p.name for p in out.glob("part-*.parquet"))
    assert 3 <= len(finished) < 16, finished
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["already_done"] >= len(finished) and report["ran"] == 16 - report["already_done"]
    rows = [sha for batch in iter_shard_rows(out) for sha in batch.sha256s]
    assert len(rows) == len(set(rows)) == 48  # each photo once: a killed partition's temp file is never read


def test_failing_partition_is_retried_then_reported_and_rerun_later(photo_manifest, tiny_ref, tmp_path, tiny_model):
    out = tmp_path / "out"
    out.mkdir()
    (out / "part-00002-of-00004.skipped.jsonl").mkdir()  # partition 2 cannot write its skipped list
    report = run_partitions(photo_manifest, out, tiny_ref, partitions=4, workers=2, retries=2)
    assert [(f["part"], f["attempts"]) for f in report.failed] == [(2, 3)] and report.retried == 2
    assert "StorageError" in report.failed[0]["error"]
    assert sorted(r.part for r in report.finished) == [0, 1, 3]
    result = run_cli("embed", photo_manifest, "-o", out, "--model", tiny_model, "--partitions", 4, "--retries", 0)
    assert result.returncode == 1 and "1 partition(s) failed" in result.stderr
    assert "run the same command again" in result.stderr and "Traceback" not in result.stderr
    (out / "part-00002-of-00004.skipped.jsonl").rmdir()
    again = run_partitions(photo_manifest, out, tiny_ref, partitions=4, workers=2)
    assert [r.part for r in again.finished if not r.already_done] == [2] and not again.failed
    assert sum(len(b.sha256s) for b in iter_shard_rows(out)) == PHOTOS


def test_partition_count_and_model_must_match_the_folder(photo_manifest, tiny_ref, tmp_path):
    from dataclasses import replace

    from productlens.errors import IngestError, ModelMismatchError

    run_partitions(photo_manifest, tmp_path / "out", tiny_ref, partitions=2, workers=1)
    with pytest.raises(IngestError, match="--partitions 2"):
        run_partitions(photo_manifest, tmp_path / "out", tiny_ref, partitions=3, workers=1)
    with pytest.raises(ModelMismatchError):
        run_partitions(photo_manifest, tmp_path / "out", replace(tiny_ref, version="other"), partitions=2, workers=1)
