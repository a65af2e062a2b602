"""Embedder registry: a name maps to a spec saying which weights, sizes and width it has.

Modelled on timm's `register_model` / `create_model` / `list_models`: model modules register
their specs at import, and callers only ever name a model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from ..errors import UnknownModelError
from .transforms import PreprocessConfig


@dataclass(frozen=True)
class EmbedderSpec:
    """Everything needed to build, export and feed one embedding network.

    build: returns the torch module (images -> (n, dim) pooled features); imports torch itself,
    so registering a model stays cheap.
    """

    name: str
    dim: int
    preprocess: PreprocessConfig
    build: Callable[[], Any]
    version: str = "imagenet"


_REGISTRY: dict[str, EmbedderSpec] = {}
_SIZED: dict[str, EmbedderSpec] = {}  # NAME@SIZE variants made on first use (not listed)


def register_embedder(
    name: str, *, dim: int, preprocess: PreprocessConfig, version: str = "imagenet"
) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Decorator registering a torch-model builder under `name`.

        @register_embedder("efficientnet-lite0", dim=1280, preprocess=PreprocessConfig(224, 256))
        def lite0(): ...
    """

    def decorate(build: Callable[[], Any]) -> Callable[[], Any]:
        _REGISTRY[name] = EmbedderSpec(name, dim, preprocess, build, version)
        return build

    return decorate


def list_embedders() -> list[str]:
    """Registered embedder names, sorted."""
    return sorted(_REGISTRY)


def get_spec(name: str) -> EmbedderSpec:
    """The spec registered under `name`; UnknownModelError lists the known names.

    `name@SIZE` (e.g. efficientnet-lite2@320) is the registered model fed SIZE-pixel crops
    instead of its native size: same weights, global pooling makes any size valid, and larger
    crops keep the fine print that tells similar packages apart.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _SIZED:
        return _SIZED[name]
    base_name, _, size = name.rpartition("@")
    if base_name in _REGISTRY and size.isdigit() and 32 <= int(size) <= 1024:
        base = _REGISTRY[base_name]
        pre = base.preprocess
        resize = round(int(size) * pre.resize_size / pre.input_size)
        spec = replace(base, name=name, preprocess=replace(pre, input_size=int(size), resize_size=resize))
        _SIZED[name] = spec
        return spec
    raise UnknownModelError(
        f"unknown embedder {name!r}; known: {', '.join(list_embedders())} (NAME@SIZE for another input size)"
    )


def with_crop(spec: EmbedderSpec, fraction: float | None) -> EmbedderSpec:
    """`spec` fed a centre crop keeping `fraction` of the shorter side (None: unchanged).

    The network is the same, so the ONNX file is too; the version gets a `-cropNN` suffix so that
    features computed with another crop never share a cache key or an embedding space.
    """
    if fraction is None or abs(fraction - spec.preprocess.crop) < 1e-3:
        return spec
    return replace(spec, preprocess=spec.preprocess.with_crop(fraction), version=f"{spec.version}-crop{round(fraction * 100)}")
