"""The figure checker catches what a reader would see as broken, and the report's figures pass it
at both widths, even with 81 long product names."""

from __future__ import annotations

import numpy as np

from productlens.evaluation import plots
from productlens.evaluation.glossary import HEADLINE


def test_measure_flags_cut_title_covered_data_tiny_and_overlapping_text():
    fig, ax = plots.pyplot().subplots(figsize=(3, 2), layout="constrained")
    ax.plot([0, 1], [0, 1], label="data")
    ax.legend(loc="center")
    ax.set_title("a title far too long for a figure three inches wide, cut at both ends")
    ax.text(0.5, 0.8, "tiny", fontsize=5)
    ax.text(0.52, 0.8, "over it")
    fit = plots.measure(fig)
    assert fit.outside == ["'a title far too long for a figure three…'"]
    assert fit.overlaps == ["'tiny' / 'over it'"]
    assert fit.legends_on_data == ["legend over axes 0"]
    assert fit.min_font_px < 11 and not fit.ok
    plots.pyplot().close(fig)


def test_report_figures_fit_at_both_widths(tmp_path):
    rng = np.random.default_rng(0)
    n = 81
    cm = np.diag(rng.integers(5, 30, n))
    for _ in range(150):
        cm[rng.integers(n), rng.integers(n)] += rng.integers(1, 4)
    names = [f"Some-Long-Product-Name-Number-{i}" for i in range(n)]
    curve = {1: 0.6, 2: 0.7, 5: 0.8, 10: 0.9, 50: 1.0}
    methods = {name: {**{k: float(v) for k, v in zip(HEADLINE, rng.random(len(HEADLINE)))}, "recall_curve": curve}
               for name in ("active: ft-2025-01-01", "off-the-shelf", "colour-histogram", "small-cnn (scratch)")}
    history = [{"epoch": e, "train_loss": 1 / e, "val_r1": 0.5, "val_cls_acc": 0.4} for e in range(1, 31)]
    for width in (plots.WIDE, plots.NARROW):
        figures = {
            "methods": plots.methods_figure(methods, HEADLINE, width),
            "recall": plots.recall_figure(methods, width),
            "per_product": plots.per_product_figure(names, np.diag(cm), cm.sum(axis=1), width),
            "confusion": plots.confusion_figure(cm, names, "product", "products", width),
            "curves": plots.curves_figure(history, width),
        }
        for name, fig in figures.items():
            saved = plots.save(fig, tmp_path / f"{name}-{width}.png")
            assert saved.fit.ok, (name, width, saved.fit)
            assert plots.read_fit(saved.path) == saved.fit
            # phone drawings exactly fill a 390 px screen's column; wide ones fit the report's 960 px
            assert saved.width == 360 if width == plots.NARROW else saved.width <= 960
