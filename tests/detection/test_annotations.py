"""Box annotation readers (boxes.json, COCO, Pascal VOC): what they read, and the line they name
when a file is malformed."""

from __future__ import annotations

import json

import pytest

from productlens.detection import read_annotations
from productlens.errors import AnnotationError

pytestmark = pytest.mark.fast

VOC = """<annotation>
  <filename>shelf.jpg</filename>
  <object>
    <name>milk-1l</name>
    <bndbox><xmin>10</xmin><ymin>20</ymin><xmax>110</xmax><ymax>220</ymax></bndbox>
  </object>
  <object>
    <name>juice</name>
    <bndbox><xmin>120</xmin><ymin>20</ymin><xmax>{xmax}</xmax><ymax>200</ymax></bndbox>
  </object>
</annotation>
"""


def test_boxes_json_with_and_without_product_ids(tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"images": [
        {"file": "images/a.jpg", "boxes": [[1, 2, 30, 40], {"box": [5, 5, 9, 9], "product": "milk"}]},
        {"file": "images/b.jpg", "boxes": []}]}))
    photos = read_annotations(path)
    assert [p.path for p in photos] == [tmp_path / "images/a.jpg", tmp_path / "images/b.jpg"]
    assert photos[0].boxes == [(1, 2, 30, 40), (5, 5, 9, 9)] and photos[0].products == [None, "milk"]


def test_coco_boxes_are_xywh_and_carry_category_names(tmp_path):
    path = tmp_path / "coco.json"
    path.write_text(json.dumps({
        "images": [{"id": 7, "file_name": "a.jpg"}],
        "categories": [{"id": 1, "name": "oat-milk"}],
        "annotations": [{"image_id": 7, "category_id": 1, "bbox": [10, 20, 30, 40]}]}))
    (photo,) = read_annotations(path)
    assert photo.path == tmp_path / "a.jpg" and photo.boxes == [(10, 20, 40, 60)] and photo.products == ["oat-milk"]


def test_voc_folder(tmp_path):
    (tmp_path / "one.xml").write_text(VOC.format(xmax=180))
    (photo,) = read_annotations(tmp_path)
    assert photo.path == tmp_path / "shelf.jpg" and photo.boxes == [(10, 20, 110, 220), (120, 20, 180, 200)]
    assert photo.products == ["milk-1l", "juice"]


def test_malformed_files_name_the_line(tmp_path):
    broken_json = tmp_path / "broken.json"
    broken_json.write_text('{"images": [\n  {"file": "a.jpg",\n   "boxes": [[1, 2, 3, 4]]\n  }\n  {"file": "b.jpg"}\n]}')
    with pytest.raises(AnnotationError, match=r"broken.json, line 5: not valid JSON"):
        read_annotations(broken_json)

    coco = tmp_path / "coco.json"
    coco.write_text('{"images": [{"id": 1, "file_name": "a.jpg"}],\n "annotations": [\n'
                    '  {"image_id": 1, "bbox": [0, 0, 5, 5]},\n  {"image_id": 1, "bbox": [0, 0, "wide", 5]}\n]}')
    with pytest.raises(AnnotationError, match=r"coco.json, line 4: annotations\[1\].bbox: a box must be 4 numbers"):
        read_annotations(coco)

    empty_box = tmp_path / "boxes.json"
    empty_box.write_text('{"images": [\n {"file": "a.jpg", "boxes": []},\n {"file": "b.jpg", "boxes": [[9, 9, 3, 3]]}\n]}')
    with pytest.raises(AnnotationError, match=r"boxes.json, line 3: images\[1\].boxes\[0\]: an empty box"):
        read_annotations(empty_box)

    voc = tmp_path / "bad.xml"
    voc.write_text(VOC.format(xmax="wide"))
    with pytest.raises(AnnotationError, match=r"bad.xml, line 9: object 2 needs numeric"):
        read_annotations(voc)
    unclosed = tmp_path / "unclosed.xml"
    unclosed.write_text(VOC.format(xmax=180).replace("</object>\n  <object>", "\n  <object>", 1))
    with pytest.raises(AnnotationError, match=r"unclosed.xml, line \d+: not well-formed XML"):
        read_annotations(unclosed)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnnotationError, match="no Pascal VOC .xml files"):
        read_annotations(tmp_path / "empty")
    with pytest.raises(AnnotationError, match="no such annotation file"):
        read_annotations(tmp_path / "nothing-here")
