"""Training curves: history.json and curves.png (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

import json
from pathlib import Path


def save_curves(history: list[dict[str, float]], folder: Path) -> tuple[Path, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    js = folder / "history.json"
    js.write_text(json.dumps(history, indent=1))
    png = folder / "curves.png"
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = [h["epoch"] for h in history]
    left.plot(epochs, [h["train_loss"] for h in history], marker="o")
    left.set(title="training loss", xlabel="epoch")
    for key in ("val_r1", "val_cls_acc"):
        if history and key in history[0]:
            right.plot(epochs, [h[key] for h in history], marker="o", label=key)
    right.set(title="validation", xlabel="epoch", ylim=(0, 1))
    if right.has_data():
        right.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
    return js, png
