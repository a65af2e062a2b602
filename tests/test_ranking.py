import numpy as np
import pytest
from PIL import Image

from productlens.errors import InputError
from productlens.ranking import aggregate_best_image, crop_to_box, parse_box

pytestmark = pytest.mark.fast


def test_aggregate_keeps_best_image_per_product_in_order():
    ids = np.array([5, 6, 7, 8, -1])
    scores = np.array([0.9, 0.8, 0.7, 0.6, -np.inf])
    mapping = {5: "A", 6: "A", 7: "B", 8: "C"}
    assert aggregate_best_image(ids, scores, mapping, 2) == [("A", 0.9, 5), ("B", pytest.approx(0.7), 7)]
    assert [p for p, _, _ in aggregate_best_image(ids, scores, mapping, 10)] == ["A", "B", "C"]


def test_parse_and_crop_boxes():
    img = Image.new("RGB", (200, 100))
    assert parse_box("10,20,110,70") == (10, 20, 110, 70)
    assert crop_to_box(img, (10, 20, 110, 70)).size == (100, 50)
    assert crop_to_box(img, (0.5, 0.0, 1.0, 1.0)).size == (100, 100)
    assert crop_to_box(img, (110, 70, 10, 20)).size == (100, 50)  # corners in any order
    with pytest.raises(InputError):
        parse_box("1,2,3")
    with pytest.raises(InputError):
        crop_to_box(img, (0, 0, 3, 3))
