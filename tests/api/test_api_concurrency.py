"""Many searches while a writer adds and removes images: no errors, never a half-built index."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from support import DATASET, split_photos

KEY = "writer-key"


@pytest.mark.parametrize("max_batch", [0, 4], ids=["unbatched", "micro-batched"])
def test_searches_while_writing(serve_copy, query_photos, max_batch):
    extra = split_photos("train", "Packages/Milk/Arla-Standard-Milk", 12)[3:12]  # not in the catalogue yet
    assert len(extra) == 9 and all(p.exists() for p in extra) and DATASET.exists()
    queries = {pid: p.read_bytes() for pid, p in query_photos.items()}
    with serve_copy(api_key=KEY, max_batch=max_batch) as server:
        stop = threading.Event()
        writer_errors: list[str] = []
        added: list[int] = []

        def writer() -> None:
            with server.client(KEY) as c:
                c.post("/products", json={"id": "Writer-Milk", "title": "Milk added while searching"})
                for photo in extra:
                    r = c.post("/products/Writer-Milk/images", files={"image": (photo.name, photo.read_bytes())})
                    if r.status_code != 201:
                        writer_errors.append(r.text)
                    else:
                        added.append(r.json()["image_id"])
                for image_id in added[:3]:
                    if c.delete(f"/images/{image_id}").status_code != 200:
                        writer_errors.append(f"delete {image_id}")
            stop.set()

        def reader(pid: str) -> list[tuple[int, str | None, int]]:
            seen = []
            with server.client(None) as c:
                while not stop.is_set():
                    r = c.post("/search", files={"image": ("q.jpg", queries[pid])}, data={"k": "4"})
                    body = r.json() if r.status_code == 200 else {}
                    results = body.get("results", [])
                    ids = [h["id"] for h in results]
                    seen.append((r.status_code, ids[0] if ids else None, len(ids)))
                    # every hit must name a live product with a consistent rank order
                    assert [h["rank"] for h in results] == list(range(1, len(results) + 1))
                    assert len(set(ids)) == len(ids)
            return seen

        pids = ["Banana", "Granny-Smith", "Arla-Standard-Milk", "Banana"]
        with ThreadPoolExecutor(5) as pool:
            readers = [pool.submit(reader, pid) for pid in pids]
            pool.submit(writer).result(timeout=300)
            per_reader = {i: f.result(timeout=60) for i, f in enumerate(readers)}
        outcomes = [o for seen in per_reader.values() for o in seen]

        assert not writer_errors, writer_errors
        assert len(added) == 9
        statuses = {s for s, _, _ in outcomes}
        assert statuses == {200}, statuses
        assert len(outcomes) >= 8
        # results are always complete (3 products, then 4 once Writer-Milk has an image) and
        # the queries of products the writer does not touch keep finding their product
        assert all(n in (3, 4) for _, _, n in outcomes)
        for i, pid in enumerate(pids):
            if pid != "Arla-Standard-Milk":
                assert {top for _, top, _ in per_reader[i]} == {pid}
        with server.client(None) as c:
            health = c.get("/healthz").json()
            assert health["images"] == 9 + 6 and health["indexed_vectors"] == health["images"]
            detail = c.get("/products/Writer-Milk").json()
            assert detail["image_count"] == 6
