"""Baselines measured in the same evaluation run, so the report shows what training buys:

- colour histogram: an 8x8x8 RGB histogram (square-rooted, so cosine = Hellinger affinity),
  the "traditional" matcher;
- off-the-shelf: the untrained backbone's features (from the training feature cache);
- small CNN: the seed code's network (3 conv blocks, 32/64/128 filters, max-pooling, dense 256)
  trained from scratch on the catalogue images at 48x48 (random crops of 56x56, flips).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from ..images import load_image

log = logging.getLogger(__name__)

THUMB = 56  # decoded thumbnail side; the CNN trains on random 48x48 crops of it (CPU budget)
CROP = 48
BINS = 8


def _decode(source) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        image = load_image(source, draft_size=THUMB * 2).image
    except Exception:  # unreadable input: the caller reports it as missing
        return None
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    thumb = np.asarray(image.resize((THUMB, THUMB), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side)))
    small = np.asarray(image.resize((96, 96), Image.Resampling.BILINEAR))
    q = (small // (256 // BINS)).reshape(-1, 3).astype(np.int64)
    hist = np.bincount(q[:, 0] * BINS * BINS + q[:, 1] * BINS + q[:, 2], minlength=BINS**3).astype(np.float32)
    hist = np.sqrt(hist / hist.sum())
    return thumb, hist


def decode_thumbnails(sources: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thumbnails uint8 (n, T, T, 3), colour histograms (n, 512), ok mask) for image sources."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        out = list(pool.map(_decode, sources))
    ok = np.array([o is not None for o in out], dtype=bool)
    thumbs = np.zeros((len(out), THUMB, THUMB, 3), np.uint8)
    hists = np.zeros((len(out), BINS**3), np.float32)
    for i, o in enumerate(out):
        if o is not None:
            thumbs[i], hists[i] = o
    return thumbs, hists, ok


def colour_histograms(hists: np.ndarray) -> np.ndarray:
    """Unit rows: cosine between square-rooted histograms is the Bhattacharyya coefficient."""
    return hists / np.maximum(np.linalg.norm(hists, axis=1, keepdims=True), 1e-12)


def train_small_cnn(thumbs: np.ndarray, labels: np.ndarray, n_classes: int, *, epochs: int = 15, seed: int = 0,
                    batch_size: int = 64, lr: float = 1e-3):
    """Train the seed code's 3-conv-block CNN from scratch; returns a function
    thumbnails -> (unit embeddings (n, 256), class logits (n, n_classes))."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    def block(cin: int, cout: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))

    features = nn.Sequential(block(3, 32), block(32, 64), block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Dropout(0.3), nn.Linear(128, 256), nn.ReLU())
    classifier = nn.Linear(256, n_classes)
    model = nn.Sequential(features, classifier)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    x_all = torch.from_numpy(thumbs).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    y_all = torch.from_numpy(labels.astype(np.int64))
    margin = THUMB - CROP
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(x_all))
        total = 0.0
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            dx, dy = rng.integers(0, margin + 1, 2)
            x = x_all[idx, :, dy : dy + CROP, dx : dx + CROP]
            if rng.random() < 0.5:
                x = x.flip(3)
            loss = nn.functional.cross_entropy(model(x), y_all[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        log.info("small CNN epoch %d loss %.3f", epoch + 1, total / len(x_all))
    model.eval()
    c = margin // 2

    def apply(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        embs, logits = [], []
        with torch.no_grad():
            x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)[:, :, c : c + CROP, c : c + CROP]
            for s in range(0, len(x), 256):
                f = features(x[s : s + 256])
                embs.append(f.numpy())
                logits.append(classifier(f).numpy())
        emb = np.concatenate(embs)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12), np.concatenate(logits)

    return apply
