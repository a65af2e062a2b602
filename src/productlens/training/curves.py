"""Training curves drawn as a PNG (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

from pathlib import Path


def draw_curves(history: list[dict[str, float]], png: Path) -> Path:
    """Training loss and validation scores per epoch, side by side, written to `png`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    return png
