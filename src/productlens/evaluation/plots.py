"""The report's figures (matplotlib, Agg backend, imported lazily) and a check that they read well.

Each figure is laid out by matplotlib's constrained layout at a fixed size, legends go outside
the axes, and `save` measures every text that was actually drawn: it must lie inside the
figure, overlap no other text and be at least MIN_FONT_PX tall as the page shows it. The
measurement is stored in the PNG (tEXt chunk FIT_KEY) so tests and readers can check it.
"""

from __future__ import annotations

import functools
import json
import logging
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, TypeVar

import numpy as np

from .glossary import METRICS, method_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

CSS_PX_PER_INCH = 100  # the report page shows a figure at 100 CSS pixels per inch
DPI = 200  # saved at twice that, so text stays sharp on phones and HiDPI screens
MIN_FONT_PX = 11
FIT_KEY = "productlens:text-fit"
WIDE = 7.6  # inches: a figure for screens at least 800 px wide
NARROW = 3.6  # inches: the same figure drawn again for phones, shown without shrinking

STYLE = {
    "font.size": 10, "axes.titlesize": 12, "axes.titleweight": "bold", "axes.labelsize": 10.5,
    "xtick.labelsize": 9.5, "ytick.labelsize": 9.5, "legend.fontsize": 9.5, "figure.titlesize": 12, "figure.titleweight": "bold",
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": False, "legend.frameon": False,
    "figure.dpi": DPI, "savefig.dpi": DPI, "figure.constrained_layout.use": True,
}
ACTIVE_COLOUR = "#0a6c5a"
OTHER_COLOURS = ("#4c78a8", "#f58518", "#9d755d", "#b279a2", "#72b7b2")


@dataclass
class TextFit:
    """How the drawn texts of one figure sit: everything empty and min_font_px >= 11 reads well."""

    texts: int = 0
    min_font_px: float = 0.0
    outside: list[str] = field(default_factory=list)  # texts reaching past the figure's edge
    overlaps: list[str] = field(default_factory=list)  # pairs of texts drawn over each other
    legends_on_data: list[str] = field(default_factory=list)  # legends covering an axes

    @property
    def ok(self) -> bool:
        return not (self.outside or self.overlaps or self.legends_on_data) and self.min_font_px >= MIN_FONT_PX


@dataclass
class SavedPlot:
    path: Path
    width: int  # CSS pixels the page shows it at
    height: int
    fit: TextFit


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def styled(build: F) -> F:
    """Run a figure builder (or the saving) under the report's style: matplotlib reads most
    sizes when an artist is made, so the whole build needs it."""

    @functools.wraps(build)
    def run(*args, **kwargs):
        with pyplot().rc_context(STYLE):
            return build(*args, **kwargs)

    return run  # type: ignore[return-value]


def new_figure(width: float, height: float, *, nrows: int = 1, ncols: int = 1) -> tuple[Figure, Any]:
    """A figure of width x height inches (call inside a @styled builder)."""
    return pyplot().subplots(nrows, ncols, figsize=(width, height))


def short(name: str, limit: int) -> str:
    """The name cut to `limit` characters with an ellipsis (long product names on axes)."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def label_chars(width: float) -> int:
    return 26 if width >= WIDE else 15


def wrapped(title: str, width_in: float, font_pt: float = 12) -> str:
    """The title broken into lines that fit width_in inches (bold: about 0.63 em per character)."""
    chars = max(12, int((width_in - 0.3) * 72 / (font_pt * 0.63)))
    return "\n".join(textwrap.wrap(title, chars))


# --- measuring and saving -----------------------------------------------------------------------


def measure(fig: Figure) -> TextFit:
    """Draw the figure once, recording each text drawn, and check where they landed.

    Text.draw is wrapped for that one draw (the renderer's draw_text is not enough: it is not
    told which artist a multi-line text belongs to)."""
    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    drawn: dict[int, Any] = {}
    draw = Text.draw

    def recording(text, *args, **kwargs):
        if text.get_visible() and text.get_text().strip():
            drawn.setdefault(id(text), text)
        return draw(text, *args, **kwargs)

    Text.draw = recording  # type: ignore[method-assign]
    try:
        fig.draw(renderer)
    finally:
        Text.draw = draw  # type: ignore[method-assign]
    texts = list(drawn.values())
    fig_box = fig.bbox
    boxes = np.array([[*t.get_window_extent(renderer).extents] for t in texts]).reshape(-1, 4)
    names = [repr(short(t.get_text().replace("\n", " "), 40)) for t in texts]
    fit = TextFit(texts=len(texts))
    fit.min_font_px = round(min((t.get_fontsize() * CSS_PX_PER_INCH / 72 for t in texts), default=0.0), 2)
    tol = 0.5
    for name, (x0, y0, x1, y1) in zip(names, boxes):
        if x0 < fig_box.x0 - tol or y0 < fig_box.y0 - tol or x1 > fig_box.x1 + tol or y1 > fig_box.y1 + tol:
            fit.outside.append(name)
    fit.overlaps = [f"{names[i]} / {names[j]}" for i, j in _overlapping(boxes, boxes)]
    axes = np.array([[*ax.get_window_extent(renderer).extents] for ax in fig.axes]).reshape(-1, 4)
    legends = [lg for lg in [*fig.legends, *(ax.get_legend() for ax in fig.axes)] if lg is not None]
    boxes = np.array([[*lg.get_window_extent(renderer).extents] for lg in legends]).reshape(-1, 4)
    fit.legends_on_data = [f"legend over axes {j}" for _, j in _overlapping(boxes, axes, same=False)]
    return fit


def _overlapping(a: np.ndarray, b: np.ndarray, *, same: bool = True, margin: float = 1.0) -> list[tuple[int, int]]:
    """Index pairs (i, j) of boxes (x0, y0, x1, y1) that overlap by more than margin pixels each way."""
    if not len(a) or not len(b):
        return []
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    hit = (w > margin) & (h > margin)
    if same:
        hit = np.triu(hit, k=1)
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(hit))]


@styled
def save(fig: Figure, path: Path) -> SavedPlot:
    """Measure, then write the PNG with the measurement in its metadata; warns when text does not fit."""
    plt = pyplot()
    fit = measure(fig)
    if not fit.ok:
        log.warning("%s: text does not fit cleanly: %s", path.name, asdict(fit))
    width, height = fig.get_size_inches()
    fig.savefig(path, dpi=DPI, metadata={FIT_KEY: json.dumps(asdict(fit))})
    plt.close(fig)
    return SavedPlot(path, round(width * CSS_PX_PER_INCH), round(height * CSS_PX_PER_INCH), fit)


def read_fit(path: Path) -> TextFit | None:
    """The measurement stored in a PNG by `save` (None for a PNG written elsewhere)."""
    from PIL import Image

    with Image.open(path) as im:
        raw = getattr(im, "text", {}).get(FIT_KEY)
    return TextFit(**json.loads(raw)) if raw else None


# --- the figures ---------------------------------------------------------------------------------
# Each builder takes the figure width (WIDE or NARROW) and fits its labels, legend and title to it.


def _colours(names: Sequence[str]) -> dict[str, str]:
    others = iter(OTHER_COLOURS * 3)
    return {n: ACTIVE_COLOUR if n.startswith("active:") else next(others) for n in names}


def _legend_below(fig: Figure, width: float, entries: int) -> None:
    fig.legend(loc="outside lower center", ncols=1 if width < WIDE else min(2, entries))


@styled
def methods_figure(methods: Mapping[str, Mapping[str, Any]], keys: Sequence[str], width: float = WIDE) -> Figure:
    """Horizontal bars: one group per metric, one bar per method, values written at the bar ends."""
    names = list(methods)
    bar = 0.22  # inches per bar: room for a value label beside each
    legend_rows = len(names) if width < WIDE else (len(names) + 1) // 2
    fig, ax = new_figure(width, 1.1 + 0.22 * legend_rows + bar * len(keys) * (len(names) + 0.8))
    colours = _colours(names)
    step = 1.0 / (len(names) + 0.8)
    for i, name in enumerate(names):
        ys = np.arange(len(keys)) + i * step
        values = [float(methods[name].get(k, np.nan)) for k in keys]
        ax.barh(ys, np.nan_to_num(values), step * 0.9, color=colours[name], label=method_label(name, names[0]))
        for y, v in zip(ys, values):
            if np.isfinite(v):
                ax.text(v + 0.01, y, f"{v:.2f}", va="center", fontsize=9)
    ax.set_yticks(np.arange(len(keys)) + step * (len(names) - 1) / 2, [METRICS[k].label for k in keys])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12 if width >= WIDE else 1.25)
    ticks = np.linspace(0, 1, 6 if width >= WIDE else 3)
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlabel("score (1 = every photo right)")
    fig.suptitle(wrapped("Each method on the headline numbers", width))
    _legend_below(fig, width, len(names))
    return fig


@styled
def recall_figure(methods: Mapping[str, Mapping[str, Any]], width: float = WIDE) -> Figure:
    """Search recall against how many results a shopper looks at (log k axis).

    Lines are drawn widest first, so a method with the same curve as another still shows."""
    legend_rows = len(methods) if width < WIDE else (len(methods) + 1) // 2
    fig, ax = new_figure(width, 3.6 + 0.22 * legend_rows)
    colours = _colours(list(methods))
    ks: list[int] = []
    for i, (name, m) in enumerate(methods.items()):
        curve = {int(k): float(v) for k, v in m["recall_curve"].items()}
        ks = sorted(set(ks) | set(curve))
        ax.plot(list(curve), list(curve.values()), marker="os^Dv"[i % 5], markersize=7 - i, linewidth=4.5 - i,
                color=colours[name], label=method_label(name, next(iter(methods))))
    ax.set_xscale("log")
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.minorticks_off()
    ax.set_ylim(0, 1.03)
    ax.grid(axis="y", alpha=0.3)
    ax.set_xlabel("results looked at (k)")
    ax.set_ylabel("searches with the right product")
    fig.suptitle(wrapped("Search: right product within the first k results", width))
    _legend_below(fig, width, len(methods))
    return fig


def most_confused(cm: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the classes with the most mistakes (as truth or as prediction), at most `limit`,
    in their original order; all classes when they fit."""
    n = len(cm)
    if n <= limit:
        return np.arange(n)
    off = cm - np.diag(np.diag(cm))
    errors = off.sum(axis=0) + off.sum(axis=1)
    return np.sort(np.argsort(-errors, kind="stable")[:limit])


@styled
def confusion_figure(cm: np.ndarray, names: Sequence[str], noun: str, plural: str, width: float = WIDE) -> Figure:
    """Counts in each cell, colour = share of the true class's photos, with a colour bar.

    Shows the classes with the most mistakes that fit: 15 wide, 6 narrow."""
    wide = width >= WIDE
    keep = most_confused(cm, 15 if wide else 6)
    sub = cm[np.ix_(keep, keep)]
    labels = [short(names[i], label_chars(width)) for i in keep]
    n = len(keep)
    label_in = 0.3 + 0.075 * max((len(s) for s in labels), default=4)
    side = max(2.0, n * 0.36) if wide else width - label_in - 0.3  # inches of matrix; a cell fits 3 digits
    title = f"Which {plural} are taken for which" + (f" (the {n} most mixed up of {len(cm)})" if n < len(cm) else "")
    fig_w = side + label_in + 1.9 if wide else width
    title = wrapped(title, fig_w)
    fig_h = side + label_in + 0.9 + 0.22 * title.count("\n") + (0 if wide else 0.9)
    fig, ax = new_figure(fig_w, fig_h)
    rows = sub / np.maximum(cm[keep].sum(axis=1, keepdims=True), 1)
    image = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1, aspect="auto")  # a fixed aspect upsets the layout
    for (r, c), count in np.ndenumerate(sub):
        if count:
            ax.text(c, r, str(int(count)), ha="center", va="center", fontsize=9,
                    color="white" if rows[r, c] > 0.55 else "#1d232a")
    ax.set_xticks(range(n), labels, rotation=90)
    ax.set_yticks(range(n), labels)
    ax.spines[:].set_visible(False)
    ax.set_xlabel(f"taken for (predicted {noun})")
    ax.set_ylabel(f"true {noun}")
    fig.suptitle(title)
    bar = fig.colorbar(image, ax=ax, shrink=0.8, fraction=0.05, location="right" if wide else "bottom")
    bar.set_label(f"share of the true {noun}'s photos" if wide else "share of the row's photos")
    return fig


@styled
def per_product_figure(names: Sequence[str], correct: np.ndarray, total: np.ndarray, width: float = WIDE, *,
                       limit: int = 20) -> Figure:
    """Accuracy of the products with queries, worst first, with 'right of total' beside each bar."""
    have = np.flatnonzero(total > 0)
    acc = correct[have] / total[have]
    order = have[np.lexsort((-total[have], acc))][:limit]
    scope = f"the {len(order)} hardest of {len(have)}" if len(order) < len(have) else "every product"
    title = wrapped(f"Product accuracy of this version ({scope})", width)
    fig, ax = new_figure(width, 1.2 + 0.22 * title.count("\n") + 0.3 * len(order))
    values = correct[order] / total[order]
    ys = np.arange(len(order))
    ax.barh(ys, values, 0.7, color=ACTIVE_COLOUR)
    for y, v, c, t in zip(ys, values, correct[order], total[order]):
        ax.text(v + 0.01, y, f"{int(c)} of {int(t)}", va="center", fontsize=9)
    ax.set_yticks(ys, [short(names[i], label_chars(width)) for i in order])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.2 if width >= WIDE else 1.45)
    ticks = np.linspace(0, 1, 6 if width >= WIDE else 3)
    ax.set_xticks(ticks, [f"{int(x * 100)}%" for x in ticks])
    ax.set_xlabel("photos named right")
    fig.suptitle(title)
    return fig


@styled
def curves_figure(history: Sequence[Mapping[str, float]], width: float = WIDE) -> Figure:
    """Training loss and the validation scores per epoch of the active version (side by side, or
    one above the other when narrow)."""
    wide = width >= WIDE
    fig, (left, right) = new_figure(width, 3.9 if wide else 6.4, nrows=1 if wide else 2, ncols=2 if wide else 1)
    epochs = [h["epoch"] for h in history]
    left.plot(epochs, [h["train_loss"] for h in history], marker="o", color=ACTIVE_COLOUR)
    left.set(xlabel="epoch", ylabel="loss")
    left.set_title("Training loss")
    labels = {"val_r1": "validation search R@1", "val_cls_acc": "validation product top-1"}
    for (key, label), colour in zip(labels.items(), OTHER_COLOURS):
        if history and key in history[0]:
            right.plot(epochs, [h[key] for h in history], marker="o", color=colour, label=label)
    right.set(xlabel="epoch", ylabel="score", ylim=(0, 1.03))
    right.set_title("Validation")
    for ax in (left, right):
        ax.xaxis.get_major_locator().set_params(integer=True)
    if right.has_data():
        fig.legend(loc="outside lower center", ncols=2 if wide else 1)
    return fig
