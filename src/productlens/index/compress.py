"""Compact vectors: a learned PCA reduction (optionally whitened) and scalar / product quantisation.

`PcaReducer` is fitted on a catalogue's embeddings and saved next to them (an .npz holding the
mean, components and scales), so queries are reduced the same way; reduced vectors are
re-normalised, so inner product stays cosine. `Codec` stores vectors as fp16, int8 (one scale
per dimension, symmetric) or PQ codes and decodes them back for scoring; `benchmarks/
bench_compression.py` measures what each costs in R@1 and mAP on Grocery.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_file
from ..errors import DimensionMismatchError, VectorIndexError

FIT_BLOCK = 8192  # vectors per block when accumulating the covariance


def normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


@dataclass
class PcaReducer:
    """x -> normalise((x - mean) @ components.T / scale); scale = sqrt(eigenvalue) when whitened."""

    mean: np.ndarray
    components: np.ndarray  # (out_dim, in_dim)
    scale: np.ndarray  # (out_dim,), ones unless whitened

    @classmethod
    def fit(cls, vectors: np.ndarray, dim: int, *, whiten: bool = False, eps: float = 1e-6) -> "PcaReducer":
        """Top `dim` eigenvectors of the covariance, accumulated in float64 blocks so that memory
        stays at a few d x d matrices however many vectors (an SVD would hold an n x d copy)."""
        vectors = np.asarray(vectors, np.float32)
        if vectors.ndim != 2 or not 0 < dim <= min(vectors.shape):
            n, d = vectors.shape if vectors.ndim == 2 else (0, vectors.size)
            raise VectorIndexError(f"cannot fit a {dim}-d PCA on {n} vectors of {d}-d")
        mean = vectors.mean(0, dtype=np.float64)
        cov = np.zeros((vectors.shape[1],) * 2)
        for start in range(0, len(vectors), FIT_BLOCK):
            block = vectors[start:start + FIT_BLOCK] - mean
            cov += block.T @ block
        eigenvalues, eigenvectors = np.linalg.eigh(cov / len(vectors))  # ascending
        top = np.argsort(eigenvalues)[::-1][:dim]
        scale = np.sqrt(np.clip(eigenvalues[top], 0, None) + eps) if whiten else np.ones(dim)
        return cls(mean.astype(np.float32), eigenvectors[:, top].T.astype(np.float32), scale.astype(np.float32))

    @property
    def in_dim(self) -> int:
        return int(self.components.shape[1])

    @property
    def out_dim(self) -> int:
        return int(self.components.shape[0])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, np.float32).reshape(-1, self.components.shape[1]) if np.ndim(vectors) == 1 else vectors
        if vectors.shape[1] != self.in_dim:
            raise DimensionMismatchError(f"reducer takes {self.in_dim}-d vectors, got {vectors.shape[1]}-d")
        return normalise(((vectors - self.mean) @ self.components.T) / self.scale)

    def save(self, path: Path) -> None:
        with atomic_file(Path(path), suffix=".npz") as tmp:
            np.savez(tmp, mean=self.mean, components=self.components, scale=self.scale)

    @classmethod
    def load(cls, path: Path) -> "PcaReducer":
        try:
            with np.load(path) as data:
                return cls(data["mean"], data["components"], data["scale"])
        except (OSError, KeyError, ValueError) as exc:
            raise VectorIndexError(f"cannot read reducer {path}: {exc}") from exc


class Codec:
    """Stores vectors as fp32, fp16, int8 or PQ codes; `bytes_per_vector` is the storage cost."""

    def __init__(self, kind: str, dim: int, *, pq_bytes: int = 32) -> None:
        if kind not in ("fp32", "fp16", "int8", "pq"):
            raise VectorIndexError(f"unknown codec {kind!r}: fp32, fp16, int8 or pq")
        self.kind, self.dim, self.pq_bytes = kind, dim, pq_bytes
        self._scale: np.ndarray | None = None
        self._pq = None

    @property
    def bytes_per_vector(self) -> int:
        return {"fp32": 4 * self.dim, "fp16": 2 * self.dim, "int8": self.dim, "pq": self.pq_bytes}[self.kind]

    def fit(self, vectors: np.ndarray) -> "Codec":
        if self.kind == "int8":
            self._scale = np.maximum(np.abs(vectors).max(0), 1e-12).astype(np.float32) / 127.0
        elif self.kind == "pq":
            import faiss

            if self.dim % self.pq_bytes:
                raise VectorIndexError(f"PQ needs {self.pq_bytes} to divide the dimension {self.dim}")
            self._pq = faiss.ProductQuantizer(self.dim, self.pq_bytes, 8)
            self._pq.train(np.ascontiguousarray(vectors, np.float32))
        return self

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, np.float32)
        if self.kind == "fp16":
            return vectors.astype(np.float16)
        if self.kind == "int8":
            assert self._scale is not None, "fit first"
            return np.clip(np.rint(vectors / self._scale), -127, 127).astype(np.int8)
        if self.kind == "pq":
            assert self._pq is not None, "fit first"
            return self._pq.compute_codes(vectors)
        return vectors

    def decode(self, codes: np.ndarray) -> np.ndarray:
        if self.kind == "int8":
            return codes.astype(np.float32) * self._scale
        if self.kind == "pq":
            return self._pq.decode(codes)
        return codes.astype(np.float32)
