"""kill -9 at random points of `add`, `index build --reduce`, `models use` and `train` (issue #12).

Each command runs in its own process and is killed after a random delay drawn over the time an
uninterrupted run of it took just before, on a copy (seeded; the timing adapts to the machine's
load). After every kill the catalogue must be whole
(tests/integrity.py: SQLite's checks, every image embedded with the active model and in the index,
no temp file left) and keep every write acknowledged before; then the command, run again, ends
the job.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from integrity import check_catalogue
from processes import cli_command, copy_catalogue, kill_after, report, run_cli, timed_run
from tiny import add_version

from productlens import Catalog

pytestmark = pytest.mark.slow

# every setting pinned (no search over candidates): a short, deterministic training run
TRAIN_ARGS = ("--recipe", "head", "--backbone", "tiny-test", "--crop", "0.875", "--no-tta", "--hidden", "0",
              "--epochs", "2", "--views", "1", "--dim", "16")


def kills(rng, n: int, took: float) -> list[float]:
    """`n` kill delays over a run that took `took` s: from late in start-up to just past the end."""
    return sorted(round(rng.uniform(0.3 * took, 1.05 * took), 2) for _ in range(n))


def test_kill_9_during_add(tiny_model, fast_photos, many_photos, fast_queries, tmp_path, rng):
    shop = tmp_path / "shop"
    create = cli_command("--catalog", shop, "-q", "add", fast_photos, "--model", tiny_model, "--index", "faiss-flat")
    took = timed_run(cli_command("--catalog", tmp_path / "scratch", "-q", "add", fast_photos, "--model", tiny_model,
                                 "--index", "faiss-flat"))
    created_at = []
    for delay in kills(rng, 3, took):  # while the catalogue is being created
        finished = kill_after(create, delay) is not None
        if (shop / "catalog.db").exists():
            check_catalogue(shop)
            created_at.append(delay)
        if finished:
            break
    assert run_cli("--catalog", shop, "-q", "add", fast_photos).returncode == 0
    acknowledged = check_catalogue(shop)["images"]
    assert acknowledged == 12
    seen = []
    add_many = cli_command("--catalog", shop, "-q", "add", many_photos)
    took = timed_run(cli_command("--catalog", copy_catalogue(shop, tmp_path / "scratch2"), "-q", "add", many_photos))
    for delay in kills(rng, 6, took):
        kill_after(add_many, delay)
        images = check_catalogue(shop)["images"]
        assert acknowledged <= images <= acknowledged + 1000
        seen.append(images)
    done = run_cli("--catalog", shop, "add", many_photos, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 1012 - seen[-1]  # resumed where the last kill left it
    assert check_catalogue(shop)["images"] == 1012
    found = run_cli("--catalog", shop, "search", fast_queries["black-white"], "-k", "1", "--json")
    assert json.loads(found.stdout)["results"][0]["id"] == "black-white"
    report("add", kills=3 + 6, uninterrupted_s=round(took, 1), catalogue_existed_after=f"{len(created_at)}/3",
           images_after_each_kill=seen, final=1012)


def test_kill_9_during_index_build_with_reduction(big_catalog_template, tmp_path, rng):
    shop = copy_catalogue(big_catalog_template, tmp_path)
    build = cli_command("--catalog", shop, "-q", "index", "build", "--kind", "hnsw", "--reduce", "16")
    scratch = copy_catalogue(big_catalog_template, tmp_path / "scratch")
    took = timed_run(cli_command("--catalog", scratch, "-q", "index", "build", "--kind", "hnsw", "--reduce", "16"))
    states = []
    for delay in kills(rng, 6, took):
        kill_after(build, delay)
        check_catalogue(shop)
        with Catalog.open(shop) as catalog:
            info = catalog.index.info()
            state = (info["kind"], (info["reduce"] or {}).get("dim"))
            assert state in {("faiss-flat", None), ("faiss-hnsw", 16)}, state  # never the new reducer on the old kind
            if info["reduce"]:
                assert (shop / info["reduce"]["file"]).exists()
        states.append(f"{state[0]}+{len(list((shop / 'models').glob('*.npz')))} reducer file(s)")
    assert run_cli("--catalog", shop, "-q", "index", "build", "--kind", "hnsw", "--reduce", "16").returncode == 0
    with Catalog.open(shop) as catalog:
        info = catalog.index.info()
        assert (info["kind"], info["reduce"]["dim"], info["count"]) == ("faiss-hnsw", 16, 1012)
        assert [p.name for p in (shop / "models").glob("*.npz")] == [info["reduce"]["file"].split("/")[-1]]  # orphans gone
    check_catalogue(shop)
    report("index build --kind hnsw --reduce 16", kills=6, uninterrupted_s=round(took, 1), state_after_each_kill=states)


def test_kill_9_during_models_use(big_catalog_template, fast_queries, tmp_path, rng):
    shop = copy_catalogue(big_catalog_template, tmp_path)
    with Catalog.open(shop) as catalog:
        v2 = add_version(catalog, "v2")
    use = cli_command("--catalog", shop, "-q", "models", "use", "v2", "--force")
    scratch = copy_catalogue(shop, tmp_path / "scratch")
    took = timed_run(cli_command("--catalog", scratch, "-q", "models", "use", "v2", "--force"))
    active = []
    for delay in kills(rng, 6, took):
        kill_after(use, delay)
        check_catalogue(shop)
        with Catalog.open(shop) as catalog:
            active.append(catalog.versions.active.version)
            embedded = len(catalog.store.embedding_ids(v2))
        assert active[-1] in ("imagenet", "v2")
    assert run_cli("--catalog", shop, "-q", "models", "use", "v2", "--force").returncode == 0
    counts = check_catalogue(shop)
    with Catalog.open(shop) as catalog:
        assert catalog.versions.active.key == v2 and counts["images"] == 1012
        assert catalog.search(fast_queries["green-yellow"], k=1)[0].product.id == "green-yellow"
    assert run_cli("--catalog", shop, "-q", "models", "use", "imagenet", "--force").returncode == 0  # rolling back needs no embedding
    check_catalogue(shop)
    report("models use", kills=6, uninterrupted_s=round(took, 1), active_after_each_kill=active,
           v2_embeddings_before_final_run=embedded)


def test_kill_9_during_train(trainable_catalog_template, tmp_path, rng):
    shop = copy_catalogue(trainable_catalog_template, tmp_path)
    train = cli_command("--catalog", shop, "-q", "train", *TRAIN_ARGS)
    took = timed_run(cli_command("--catalog", copy_catalogue(shop, tmp_path / "scratch"), "-q", "train", *TRAIN_ARGS))
    before = check_catalogue(shop)
    versions = []
    for delay in kills(rng, 4, took):
        kill_after(train, delay)
        assert check_catalogue(shop)["images"] == before["images"]
        with Catalog.open(shop) as catalog:
            rows = catalog.versions.describe()
            for record in catalog.store.list_models():
                if record.info.get("onnx"):
                    assert (shop / record.info["onnx"]).exists()  # a version is listed only once saved whole
        versions.append(len(rows))
        cache = shop / "cache" / "features.sqlite"
        if cache.exists():
            db = sqlite3.connect(cache)
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            db.close()
    done = run_cli("--catalog", shop, "-q", "train", *TRAIN_ARGS, "--json")
    assert done.returncode == 0, done.stderr
    with Catalog.open(shop) as catalog:
        assert len(catalog.versions.describe()) == versions[-1] + 1
    orphans = [p.name for p in (shop / "models").iterdir() if p.is_dir() and not (p / "version.json").exists()]
    report("train", kills=4, uninterrupted_s=round(took, 1), versions_after_each_kill=versions,
           unlisted_version_folders=len(orphans))
