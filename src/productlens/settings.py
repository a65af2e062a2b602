"""Settings declared as data: name, default, help. Overridable from the environment (PRODUCTLENS_*).

Every PRODUCTLENS_* variable the package reads is declared here; docs/settings.md is generated
from this table (`make docs`), and a test fails when either drifts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    """One setting: its name, default and help; `shown` is how the docs write a default that
    depends on the machine (a home folder, a checkout path)."""

    name: str
    default: object
    help: str
    shown: str | None = None

    @property
    def env_var(self) -> str:
        return "PRODUCTLENS_" + self.name.upper()

    def value(self) -> object:
        raw = os.environ.get(self.env_var)
        if raw is None:
            return self.default
        return type(self.default)(raw) if self.default is not None else raw


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting("catalog", None, "Catalogue directory used when --catalog is not given."),
        Setting("model", "efficientnet-lite0", "Embedder for new catalogues."),
        Setting("max_image_pixels", 64_000_000, "Images with more pixels are refused (decompression-bomb guard)."),
        Setting("max_image_bytes", 50_000_000, "Files larger than this are refused before decoding."),
        Setting("cache_dir", str(Path.home() / ".cache" / "productlens"), "Where exported ONNX models are cached.",
                shown="~/.cache/productlens"),
        Setting("threads", 0, "ONNX Runtime intra-op threads (0 = one per core)."),
        Setting("batch_size", 32, "Images per inference batch during ingest."),
        Setting(
            "grocery_root",
            str(Path(__file__).resolve().parents[3] / "shared" / "datasets" / "grocery-store"),
            "Root of the Grocery Store dataset (demo, tests, benchmarks).",
            shown="../shared/datasets/grocery-store, beside the checkout",
        ),
        Setting("api_key", None, "Key that writes to `productlens serve` need (X-API-Key); without one it is read-only."),
        Setting("read_key", None, "If set, reads from `productlens serve` need this key (or the API key) too."),
        Setting("request_timeout", 30.0, "Seconds a `productlens serve` request may take (body upload included); "
                "past it the server answers 504, or 503 while another process holds the write lock."),
    ]
}


def get(name: str):
    """Resolved value of a setting: environment first, then the declared default."""
    return SETTINGS[name].value()


def env_var(name: str) -> str:
    """The environment variable of a declared setting (KeyError for an undeclared one)."""
    return SETTINGS[name].env_var
