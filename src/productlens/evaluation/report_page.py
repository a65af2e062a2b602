"""report.html: the evaluation laid out for people, from the metrics and the files report.py wrote.

Plain HTML and CSS, no script and nothing fetched from the internet; it reads on a phone too.
Numbers are shown in tables and sentences; raw JSON is only linked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any, Iterable, Mapping

from .glossary import ACTIVE_PREFIX, HEADLINE, METRICS, UNTRAINED_VERSION, method_label, method_meaning
from .plots import SavedPlot

ALL_METRICS = tuple(METRICS)


@dataclass
class Figure:
    title: str
    wide: SavedPlot
    narrow: SavedPlot  # the same plot drawn for phones
    caption: str


@dataclass
class PairView:
    right: str
    right_thumb: str | None
    predicted: str
    predicted_thumb: str | None
    count: int
    of: int


@dataclass
class FailureView:
    query: str  # file name of the photo
    query_thumb: str | None
    predicted: str
    predicted_thumb: str | None
    right: str
    right_thumb: str | None


@dataclass
class Gallery:
    pairs: list[PairView] = field(default_factory=list)
    failures: list[FailureView] = field(default_factory=list)
    failures_total: int = 0


def render_page(metrics: Mapping[str, Any], figures: list[Figure], gallery: Gallery, *, metrics_file: str) -> str:
    methods = metrics["methods"]
    sections = [
        _summary(metrics),
        _scores_table(methods, [k for k in HEADLINE if _present(methods, k)], digits=2, caption="Headline numbers"),
        _method_notes(methods),
        _facts(metrics),
        _pairs(gallery.pairs),
        _failures(gallery),
        "<h2>Plots</h2>" + "".join(_figure(f) for f in figures),
        '<h2 id="all-metrics">All metrics</h2>'
        + _scores_table(methods, [k for k in ALL_METRICS if _present(methods, k)], digits=3, caption="All metrics")
        + f'<p>The raw numbers, for scripts: <a href="{escape(metrics_file)}">{escape(metrics_file)}</a>.</p>',
    ]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>productlens evaluation: {escape(str(metrics["model"]))}</title>
<style>{CSS}</style>
</head><body><main>
<h1>How well the catalogue recognises its products</h1>
{"".join(sections)}
</main></body></html>
"""


def _present(methods: Mapping[str, Mapping[str, Any]], key: str) -> bool:
    return any(isinstance(m.get(key), float) for m in methods.values())


def _active(methods: Mapping[str, Mapping[str, Any]]) -> tuple[str, Mapping[str, Any]]:
    return next(iter(methods.items()))  # evaluate() puts the active version first


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _summary(metrics: Mapping[str, Any]) -> str:
    methods = metrics["methods"]
    name, active = _active(methods)
    parts = [f"On {metrics['queries']:,} test photos of {metrics['products']:,} products, "
             f"<strong>this version named the right product first for {_pct(active['fine_top1'])}</strong>"]
    if "coarse_top1" in active:
        parts.append(f" and the right category for {_pct(active['coarse_top1'])}")
    parts.append(f"; the first search result showed the right product for {_pct(active['R@1'])}.")
    others = [(n, m["fine_top1"]) for n, m in methods.items() if n != name and "fine_top1" in m]
    if others:
        listed = ", ".join(f"{escape(method_label(n, name))} {_pct(v)}" for n, v in others)
        parts.append(f" For comparison, product top-1 of {listed}.")
    if name == ACTIVE_PREFIX + UNTRAINED_VERSION and "off-the-shelf" in methods:
        parts.append(" This version is the untrained off-the-shelf model (no training yet), so those two "
                     "columns are the same.")
    return f'<p class="lead">{"".join(parts)}</p>'


def _scores_table(methods: Mapping[str, Mapping[str, Any]], keys: list[str], *, digits: int, caption: str) -> str:
    first = next(iter(methods))
    head = "".join(f'<th scope="col">{escape(method_label(n, first))}</th>' for n in methods)
    rows = []
    for key in keys:
        values = [m.get(key) if isinstance(m.get(key), float) else None for m in methods.values()]
        best = max((v for v in values if v is not None), default=None)
        cells = "".join(
            "<td>–</td>" if v is None else f'<td{" class=best" if v == best else ""}>{v:.{digits}f}</td>' for v in values)
        info = METRICS[key]
        rows.append(f'<tr><th scope="row">{escape(info.label)}<span class="meaning">{escape(info.meaning)}</span></th>'
                    f"{cells}</tr>")
    return (f'<div class="scroll"><table class="scores" style="--methods: {len(methods)}"><caption>{escape(caption)} (best in bold; 1 is perfect)'
            f'</caption><thead><tr><th scope="col">Number</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
            "</table></div>")


def _method_notes(methods: Mapping[str, Any]) -> str:
    first = next(iter(methods), None)
    items = "".join(f"<li><strong>{escape(method_label(n, first))}</strong>: {escape(method_meaning(n))}</li>"
                    for n in methods if method_meaning(n))
    return f'<ul class="notes">{items}</ul>'


def _facts(metrics: Mapping[str, Any]) -> str:
    _, active = _active(metrics["methods"])
    facts = [
        ("Test photos", f"{metrics['queries']:,}" + (f" ({metrics['queries_skipped']:,} skipped: unknown product or "
                                                     "unreadable)" if metrics.get("queries_skipped") else "")),
        ("Catalogue", f"{metrics['gallery_images']:,} images of {metrics['products']:,} products in "
                      f"{metrics['categories']:,} categories"),
        ("Model", str(metrics["model"])),
        ("Recognition", str(active.get("recognition_mode", "nearest product"))),
    ]
    if metrics.get("catalog_images_for_matching"):
        facts.append(("Catalogue shots", f"{metrics['catalog_images_for_matching']:,} images matched alone "
                                         "(catalogue-shot rows)"))
    latency = metrics.get("latency_ms") or {}
    if latency:
        facts.append(("Search time", f"{latency['p50']:.0f} ms per photo (median), {latency['p95']:.0f} ms "
                                     f"(95th percentile) over {latency['samples']} searches"))
    if metrics.get("embed_throughput_img_s"):
        facts.append(("Embedding speed", f"{metrics['embed_throughput_img_s']:.0f} photos per second"))
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    return f'<h2>About this run</h2><dl class="facts">{items}</dl>'


def _thumb(src: str | None, alt: str) -> str:
    if src is None:
        return '<div class="thumb missing">photo not available</div>'
    return f'<a href="{escape(src)}"><img class="thumb" src="{escape(src)}" alt="{escape(alt)}"></a>'


def _pairs(pairs: Iterable[PairView]) -> str:
    cards = "".join(
        f'<li class="pair"><figure>{_thumb(p.right_thumb, p.right)}<figcaption>{escape(p.right)}</figcaption></figure>'
        f'<p class="arrow">taken for<br><strong>{p.count} of {p.of}</strong> photos</p>'
        f"<figure>{_thumb(p.predicted_thumb, p.predicted)}<figcaption>{escape(p.predicted)}</figcaption></figure></li>"
        for p in pairs)
    body = f'<ul class="pairs">{cards}</ul>' if cards else "<p>No product was taken for another.</p>"
    return "<h2>Products mixed up most</h2>" + body


FAILURES_PAGE = "failures.html"


def _failure_cards(failures: Iterable[FailureView]) -> str:
    return "".join(
        f'<li class="failure">'
        f'<figure>{_thumb(f.query_thumb, f.query)}<figcaption>Photo<br><span class="file">{escape(f.query)}</span>'
        f"</figcaption></figure>"
        f'<figure class="wrong">{_thumb(f.predicted_thumb, f.predicted)}<figcaption>Taken for<br>'
        f"<strong>{escape(f.predicted)}</strong></figcaption></figure>"
        f'<figure class="right">{_thumb(f.right_thumb, f.right)}<figcaption>Actually<br>'
        f"<strong>{escape(f.right)}</strong></figcaption></figure></li>"
        for f in failures)


def _failures(gallery: Gallery) -> str:
    if not gallery.failures:
        return "<h2>Photos named wrongly</h2><p>None: every test photo was named right.</p>"
    shown = len(gallery.failures)
    scope = f"{shown} of {gallery.failures_total}" if shown < gallery.failures_total else f"all {shown}"
    every = (f' <a href="{FAILURES_PAGE}">Browse all {gallery.failures_total} wrongly named photos</a>.'
             if shown < gallery.failures_total else "")
    return (f"<h2>Photos named wrongly ({scope})</h2><p>Each row: the test photo, the catalogue image of the product "
            f"it was taken for, and an image of the product it really shows.{every}</p>"
            f'<ul class="failures">{_failure_cards(gallery.failures)}</ul>')


def render_failures_page(metrics: Mapping[str, Any], failures: list[FailureView]) -> str:
    """failures.html: every wrongly named test photo, so none is left out of the report (its thumbnails
    load as they scroll into view)."""
    cards = _failure_cards(failures).replace('<img class="thumb"', '<img class="thumb" loading="lazy"')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>productlens evaluation: every photo named wrongly</title>
<style>{CSS}</style>
</head><body><main>
<p><a href="report.html">&larr; the report</a></p>
<h1>Every photo named wrongly ({len(failures):,} of {metrics["queries"]:,})</h1>
<p>Each row: the test photo, the catalogue image of the product it was taken for, and an image of the product
it really shows.</p>
<ul class="failures">{cards}</ul>
</main></body></html>
"""


def _figure(f: Figure) -> str:
    """The plot, with its phone drawing for narrow screens, linking to the full-size PNG."""
    wide, narrow = f.wide, f.narrow
    phone = f"{narrow.path.parent.name}/{narrow.path.name}"
    return (f'<figure class="plot"><h3>{escape(f.title)}</h3><a href="{escape(wide.path.name)}"><picture>'
            f'<source media="(max-width: 600px)" srcset="{escape(phone)}" width="{narrow.width}" '
            f'height="{narrow.height}"><img src="{escape(wide.path.name)}" width="{wide.width}" height="{wide.height}" '
            f'alt="{escape(f.title)}"></picture></a><figcaption>{escape(f.caption)}</figcaption></figure>')


CSS = """
:root { --fg: #1d232a; --muted: #5d6874; --line: #d9dee3; --accent: #0a6c5a; --bad: #a4262c; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: #f6f7f8; }
main { max-width: 1000px; margin: 0 auto; padding: 1rem 1.2rem 3rem; background: #fff; }
h1 { font-size: 1.6rem; margin: .4rem 0 .8rem; } h2 { font-size: 1.25rem; margin: 2rem 0 .6rem; }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
.lead { font-size: 1.08rem; }
.scroll { overflow-x: auto; }
table.scores { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
.scores caption { text-align: left; color: var(--muted); font-size: .9rem; padding-bottom: .3rem; }
.scores th, .scores td { border-bottom: 1px solid var(--line); padding: .45rem .5rem; vertical-align: top; }
.scores thead th { font-size: .88rem; text-align: right; vertical-align: bottom; }
.scores thead th:first-child, .scores tbody th { text-align: left; }
.scores td { text-align: right; font-size: 1.05rem; }
.scores td.best { font-weight: 700; color: var(--accent); }
.meaning { display: block; font-weight: 400; color: var(--muted); font-size: .85rem; }
.notes { color: var(--muted); font-size: .92rem; padding-left: 1.2rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; overflow-wrap: anywhere; }
ul.pairs, ul.failures { list-style: none; padding: 0; margin: 0; display: grid; gap: .8rem; }
ul.pairs { grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); }
li.pair, li.failure { display: grid; align-items: start; gap: .6rem; border: 1px solid var(--line);
  border-radius: 10px; padding: .6rem; }
li.pair { grid-template-columns: 1fr auto 1fr; align-items: center; }
li.failure { grid-template-columns: repeat(3, 1fr); }
figure { margin: 0; }
figcaption { font-size: .92rem; overflow-wrap: anywhere; margin-top: .25rem; }
.thumb { display: block; width: 100%; max-width: 220px; aspect-ratio: 1; object-fit: cover; border-radius: 6px;
  background: #eceff1; }
.thumb.missing { display: grid; place-items: center; color: var(--muted); font-size: .85rem; text-align: center; }
.failure .wrong .thumb { outline: 3px solid var(--bad); } .failure .right .thumb { outline: 3px solid var(--accent); }
.failure .wrong strong { color: var(--bad); } .failure .right strong { color: var(--accent); }
.file { color: var(--muted); font-size: .85rem; }
.arrow { text-align: center; color: var(--muted); font-size: .92rem; margin: 0; }
.arrow strong { color: var(--fg); }
figure.plot { margin: 1.6rem 0; }
figure.plot img { display: block; max-width: 100%; height: auto; }
figure.plot figcaption { color: var(--muted); }
@media (max-width: 600px) {
  main { padding: .8rem .7rem 2rem; }
  h1 { font-size: 1.35rem; }
  ul.pairs { grid-template-columns: 1fr; }
  /* a metric's name and meaning on a line of their own, the methods' numbers in a row below */
  .scores, .scores caption, .scores thead, .scores tbody { display: block; }
  .scores tr { display: grid; grid-template-columns: repeat(var(--methods), 1fr); }
  .scores th, .scores td { padding: .3rem .3rem; min-width: 0; overflow-wrap: anywhere; }
  .scores tbody th { grid-column: 1 / -1; border-bottom: 0; padding-bottom: 0; }
  .scores thead th:first-child { display: none; }
  .facts { grid-template-columns: 1fr; gap: 0; } .facts dd { margin-bottom: .4rem; }
}
"""
