"""Milvus backend: one collection per catalogue model on a Milvus server (`milvus://host:port`).

The collection holds the image id (primary key), the vector and the product's title, category
and attributes, so product filters run inside Milvus (`Filter.to_milvus()`) rather than as a
list of allowed ids. Milvus is remote state: there is no file to save; `LiveIndex` keeps it in
step with the store by diffing ids. Searches use Session consistency: this process's writes are
visible at once (Strong would wait for the server's next time tick, ~200 ms a query), other
writers' within Milvus's bounded staleness; id listings and deletes read with Strong consistency.
pymilvus is imported lazily (optional dependency group `milvus`).
"""

from __future__ import annotations

import logging
import re
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ..errors import VectorIndexError
from ..filters import MILVUS_TEXT_MAX as TEXT_MAX
from .base import Payload, SearchHits, VectorIndex, as_ids, as_pairs, empty_hits, last_of_each

log = logging.getLogger(__name__)

QUERY_PAGE = 16384  # Milvus's cap on offset + limit of one query
ID_CHUNK = 4096  # ids per "id in [...]" expression
FIELDS = ("title", "category", "attributes")


def row_fields(extra: dict[str, Any] | None) -> dict[str, Any]:
    """A row's product fields as stored: title and category truncated ("" for none), attributes."""
    extra = extra or {}
    return {"title": str(extra.get("title") or "")[:TEXT_MAX],
            "category": str(extra.get("category") or "")[:TEXT_MAX],
            "attributes": dict(extra.get("attributes") or {})}


def parse_uri(uri: str) -> tuple[str, int]:
    """'milvus://host:port' -> (host, port); raises VectorIndexError on anything else."""
    parsed = urlparse(uri)
    if parsed.scheme != "milvus" or not parsed.hostname:
        raise VectorIndexError(f"not a Milvus address: {uri!r} (expected milvus://host:port)")
    try:
        port = parsed.port or 19530
    except ValueError:
        raise VectorIndexError(f"bad port in {uri!r}") from None
    return parsed.hostname, port


class MilvusIndex(VectorIndex):
    """A Milvus collection behind the VectorIndex interface (HNSW, inner product)."""

    exact = False
    server_filter = True
    kind = "milvus"

    def __init__(self, dim: int, uri: str = "milvus://127.0.0.1:19530", *, collection: str = "productlens",
                 ef_search: int = 128, timeout: float = 30.0) -> None:
        try:
            from pymilvus import DataType, MilvusClient
        except ImportError as exc:
            raise VectorIndexError("the Milvus backend needs pymilvus: pip install 'productlens[milvus]'") from exc
        host, port = parse_uri(uri)
        self.dim, self.uri, self.ef_search = dim, uri, ef_search
        self.collection = re.sub(r"[^A-Za-z0-9_]", "_", collection)
        if not re.match(r"[A-Za-z_]", self.collection):
            self.collection = "c_" + self.collection
        try:
            self._client = MilvusClient(uri=f"http://{host}:{port}", timeout=timeout)
        except Exception as exc:  # pymilvus raises its own MilvusException tree
            raise VectorIndexError(f"cannot reach Milvus at {uri}: {exc}") from exc
        if not self._client.has_collection(self.collection):
            schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            schema.add_field("title", DataType.VARCHAR, max_length=TEXT_MAX)
            schema.add_field("category", DataType.VARCHAR, max_length=TEXT_MAX)
            schema.add_field("attributes", DataType.JSON)
            params = self._client.prepare_index_params()
            params.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 200})
            self._client.create_collection(self.collection, schema=schema, index_params=params,
                                           consistency_level="Strong")
        else:
            have = self._dim_of_collection()
            if have != dim:
                raise VectorIndexError(f"Milvus collection {self.collection} holds {have}-d vectors, expected {dim}")
        self._client.load_collection(self.collection)

    @classmethod
    def create(cls, kind: str, dim: int, **options: Any) -> "MilvusIndex":
        """`kind` is the server's address, milvus://host:port."""
        return cls(dim, kind, **options)

    def _dim_of_collection(self) -> int:
        desc = self._client.describe_collection(self.collection)
        for field in desc["fields"]:
            if field["name"] == "vector":
                return int(field["params"]["dim"])
        raise VectorIndexError(f"Milvus collection {self.collection} has no vector field")

    def add(self, ids: np.ndarray, vectors: np.ndarray, payload: Payload | None = None) -> None:
        """Upsert rows; `payload` gives each row's product fields (title, category, attributes)."""
        ids, vectors = as_pairs(ids, vectors, self.dim)
        if payload is not None and len(payload) != len(ids):
            raise VectorIndexError(f"{len(payload)} payload rows for {len(ids)} vectors")
        if len(ids) == 0:
            return
        keep = last_of_each(ids)  # the last row of a repeated id wins
        rows = [{"id": int(ids[j]), "vector": vectors[j].tolist(), **row_fields(payload[j] if payload is not None else None)}
                for j in keep.tolist()]
        for start in range(0, len(rows), 1000):
            self._client.upsert(self.collection, rows[start:start + 1000])

    def remove(self, ids: np.ndarray) -> int:
        present = np.unique(as_ids(ids)[self.contains(ids)])
        for start in range(0, len(present), ID_CHUNK):
            self._client.delete(self.collection, filter=f"id in {present[start:start + ID_CHUNK].tolist()}")
        return len(present)

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Which of `ids` the collection holds (asked of the server, a chunk of ids at a time)."""
        ids = as_ids(ids)
        found: set[int] = set()
        for start in range(0, len(ids), ID_CHUNK):
            chunk = np.unique(ids[start:start + ID_CHUNK]).tolist()
            rows = self._client.query(self.collection, filter=f"id in {chunk}", output_fields=["id"], limit=len(chunk))
            found.update(int(r["id"]) for r in rows)
        return np.asarray([int(i) in found for i in ids], dtype=bool)

    def fields(self, ids: np.ndarray) -> dict[int, dict[str, Any]]:
        """The product fields stored with each of these ids (`row_fields` form; absent ids left out)."""
        ids = as_ids(ids)
        out: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK].tolist()
            rows = self._client.query(self.collection, filter=f"id in {chunk}", output_fields=["id", *FIELDS],
                                      limit=len(chunk))
            out.update({int(r["id"]): row_fields(r) for r in rows})
        return out

    def _search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None,
                expression: str | None) -> SearchHits:
        """Top-k; `allowed_ids` and/or a Milvus filter `expression` restrict the candidates."""
        clauses = []
        if allowed_ids is not None:
            clauses.append(f"id in {allowed_ids.tolist()}")
        if expression:
            clauses.append(f"({expression})")
        hits = empty_hits(len(queries), k)
        limit = min(k, QUERY_PAGE)
        try:
            result = self._client.search(
                self.collection, data=queries.tolist(), limit=limit, filter=" and ".join(clauses),
                search_params={"metric_type": "IP", "params": {"ef": max(self.ef_search, limit)}},
                output_fields=["id"], consistency_level="Session")
        except Exception as exc:
            raise VectorIndexError(f"Milvus search failed: {exc}") from exc
        for row, found in enumerate(result):
            for col, hit in enumerate(found[:k]):
                hits.ids[row, col] = int(hit["id"])
                hits.scores[row, col] = float(hit["distance"])
        return hits

    def wait_until_indexed(self, timeout: float = 900.0) -> None:
        """Flush, then block until the server has built its index over every row (until then it
        scans the unindexed segments: slower searches). For after a bulk load."""
        self._client.flush(self.collection)
        deadline = time.monotonic() + timeout
        while True:
            state = self.index_state()
            if state.get("indexed_rows") == state.get("total_rows") and not state.get("pending_index_rows"):
                return
            if time.monotonic() > deadline:
                raise VectorIndexError(f"Milvus has not indexed {self.collection} after {timeout:.0f} s: {state}")
            time.sleep(1.0)

    def index_state(self) -> dict[str, Any]:
        """The server's account of its vector index: indexed_rows, total_rows, pending_index_rows."""
        return dict(self._client.describe_index(self.collection, "vector"))

    def search_filter(self, queries: np.ndarray, k: int, flt) -> SearchHits:
        """Search with a productlens `Filter` pushed down as a Milvus expression."""
        return self.search(queries, k, expression=flt.to_milvus())

    def ids(self) -> np.ndarray:
        out: list[int] = []
        iterator = self._client.query_iterator(self.collection, batch_size=QUERY_PAGE // 2, filter="id >= -9223372036854775807",
                                               output_fields=["id"])
        try:
            while True:
                page = iterator.next()
                if not page:
                    break
                out.extend(int(r["id"]) for r in page)
        finally:
            iterator.close()
        return np.asarray(out, np.int64)

    def __len__(self) -> int:
        rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def stored_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        return row_fields(fields)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "uri": self.uri, "collection": self.collection, "count": len(self)}

    def drop(self) -> None:
        """Delete the whole collection on the server."""
        self._client.drop_collection(self.collection)

    def close(self) -> None:
        self._client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_local_server(base_dir: str):
    """Start the standalone server of the `milvus` package (2.3.5) in base_dir on free ports.

    Returns (server, uri); call server.stop() when done. Unlike `milvus.default_server`, the
    embedded etcd's peer port is moved off its fixed 2380 too, so two servers (two test runs on
    one machine) do not collide.
    """
    from milvus import MilvusServer, MilvusServerConfig

    base = Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    client, peer = _free_port(), _free_port()
    etcd_yaml = base / "etcd-embed.yaml"
    etcd_yaml.write_text(
        f"listen-client-urls: http://127.0.0.1:{client}\nadvertise-client-urls: http://127.0.0.1:{client}\n"
        f"listen-peer-urls: http://127.0.0.1:{peer}\ninitial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
        f"initial-cluster: default=http://127.0.0.1:{peer}\n"
    )
    template = MilvusServerConfig().template_text.replace(
        "  use:\n    embed: true", f"  config:\n    path: {etcd_yaml}\n  use:\n    embed: true", 1)
    template_file = base / "milvus.yaml.template"
    template_file.write_text(template)
    config = MilvusServerConfig(template=str(template_file))
    config.glog_conf_file = MilvusServerConfig().glog_conf_file  # only set for the packaged template
    server = MilvusServer(config)
    server.set_base_dir(str(base / "server"))
    server.config.set("etcd_port", client)
    server.config.set("proxy_port", _free_port())
    server.start()
    return server, f"milvus://127.0.0.1:{server.listen_port}"
