"""End to end on the whole Grocery Store dataset: train photos as the catalogue, test photos as queries."""

from __future__ import annotations

import pytest

from productlens import Catalog
from productlens.catalog.datasets import grocery_store_rows, write_grocery_csv
from productlens.evaluation.metrics import recall_at_k
from productlens.models import create_embedder
from productlens.pipeline import embed_sources

from support import GROCERY, require_grocery


@pytest.mark.slow
def test_grocery_retrieval_recall_at_1(tmp_path):
    require_grocery()
    write_grocery_csv(GROCERY, "train", tmp_path / "train.csv")
    with Catalog.open(tmp_path / "shop", create=True) as shop:
        report = shop.add(tmp_path / "train.csv")
        assert report.added == 2640 and not report.skipped and report.products_created == 81
        queries = list(grocery_store_rows(GROCERY, "test"))
        results = list(embed_sources(create_embedder(), queries, source_of=lambda row: row[1]))
        assert all(r.ok for r in results)
        ranked = [[h.product.id for h in shop.searcher.vector(r.vector, k=5)] for r in results]
        labels = [cls.name for cls, _, _ in queries]
        r1, r5 = recall_at_k(ranked, labels, 1), recall_at_k(ranked, labels, 5)
        print(f"Grocery test->train with efficientnet-lite0: R@1 {r1:.3f}, R@5 {r5:.3f}")
        assert r1 >= 0.60
        assert r5 >= r1
