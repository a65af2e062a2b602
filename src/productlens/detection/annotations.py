"""Readers of box annotation files: freiburg-style boxes.json, COCO JSON and Pascal VOC XML.

Each returns `AnnotatedPhoto`s (the photo's path, its boxes in pixels, and each box's product id
when the file names one). A malformed file raises AnnotationError naming the file and the line.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AnnotationError
from .base import Box


@dataclass
class AnnotatedPhoto:
    """A photo with its true boxes; `products[i]` is box i's product id or None."""

    path: Path
    boxes: list[Box] = field(default_factory=list)
    products: list[str | None] = field(default_factory=list)


def read_annotations(path: str | Path) -> list[AnnotatedPhoto]:
    """Read `path`: a folder or .xml file is Pascal VOC, a .json file COCO (it has "annotations")
    or boxes.json ({"images": [{"file", "boxes"}]}). Photo paths resolve against the file's folder
    (COCO: also its `images/` subfolder)."""
    path = Path(path)
    if not path.exists():
        raise AnnotationError(f"{path}: no such annotation file or folder")
    if path.is_dir() or path.suffix.lower() == ".xml":
        files = sorted(path.glob("*.xml")) if path.is_dir() else [path]
        if not files:
            raise AnnotationError(f"{path}: no Pascal VOC .xml files in this folder")
        return [_read_voc(f) for f in files]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: cannot be read as a UTF-8 annotation file ({exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise AnnotationError(f"{path}, line 1: expected an object with an \"images\" list (COCO or boxes.json)")
    if "annotations" in data:
        return _read_coco(path, text, data)
    return _read_boxes_json(path, text, data)


def _line_of(text: str, key: str, occurrence: int) -> int:
    """The line of the `occurrence`-th (0-based) `"key"` in a JSON text: where entry number
    `occurrence` of a list of objects carrying that key starts (1 when not found)."""
    matches = list(re.finditer(rf'"{re.escape(key)}"\s*:', text))
    if occurrence < len(matches):
        return text.count("\n", 0, matches[occurrence].start()) + 1
    return 1


def _box(value: Any, where: str, xywh: bool = False) -> Box:
    if not isinstance(value, (list, tuple)) or len(value) != 4 or not all(isinstance(v, (int, float)) for v in value):
        raise ValueError(f"{where}: a box must be 4 numbers, got {json.dumps(value)[:60]}")
    x0, y0, a, b = (float(v) for v in value)
    x1, y1 = (x0 + a, y0 + b) if xywh else (a, b)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"{where}: an empty box {json.dumps(value)} (x1 <= x0 or y1 <= y0)")
    return (x0, y0, x1, y1)


def _read_boxes_json(path: Path, text: str, data: dict[str, Any]) -> list[AnnotatedPhoto]:
    photos = []
    for i, entry in enumerate(data["images"]):
        try:
            if not isinstance(entry, dict) or "file" not in entry or not isinstance(entry.get("boxes"), list):
                raise ValueError(f"images[{i}] needs \"file\" and a \"boxes\" list")
            photo = AnnotatedPhoto(path.parent / str(entry["file"]))
            for j, raw in enumerate(entry["boxes"]):
                box, product = (raw.get("box"), raw.get("product")) if isinstance(raw, dict) else (raw, None)
                photo.boxes.append(_box(box, f"images[{i}].boxes[{j}]"))
                photo.products.append(None if product is None else str(product))
        except ValueError as exc:
            raise AnnotationError(f"{path}, line {_line_of(text, 'file', i)}: {exc}") from exc
        photos.append(photo)
    return photos


def _read_coco(path: Path, text: str, data: dict[str, Any]) -> list[AnnotatedPhoto]:
    if not isinstance(data.get("annotations"), list):
        raise AnnotationError(f"{path}, line {_line_of(text, 'annotations', 0)}: \"annotations\" must be a list")
    names = {c.get("id"): str(c.get("name")) for c in data.get("categories", []) if isinstance(c, dict)}
    photos: dict[Any, AnnotatedPhoto] = {}
    for i, image in enumerate(data["images"]):
        if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
            raise AnnotationError(f"{path}, line {_line_of(text, 'file_name', i)}: images[{i}] needs \"id\" and \"file_name\"")
        base = path.parent / "images" if (path.parent / "images" / image["file_name"]).exists() else path.parent
        photos[image["id"]] = AnnotatedPhoto(base / str(image["file_name"]))
    for i, ann in enumerate(data["annotations"]):
        line = _line_of(text, "bbox", i)
        try:
            if not isinstance(ann, dict) or ann.get("image_id") not in photos:
                raise ValueError(f"annotations[{i}] names no known image (image_id {ann.get('image_id') if isinstance(ann, dict) else ann!r})")
            box = _box(ann.get("bbox"), f"annotations[{i}].bbox", xywh=True)
        except ValueError as exc:
            raise AnnotationError(f"{path}, line {line}: {exc}") from exc
        product = ann.get("product_id", names.get(ann.get("category_id")))
        photos[ann["image_id"]].boxes.append(box)
        photos[ann["image_id"]].products.append(None if product is None else str(product))
    return list(photos.values())


def _read_voc(path: Path) -> AnnotatedPhoto:
    try:
        text = path.read_text(encoding="utf-8")
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise AnnotationError(f"{path}, line {exc.position[0]}: not well-formed XML ({exc.msg if hasattr(exc, 'msg') else exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: cannot be read ({exc})") from exc
    filename = root.findtext("filename")
    if not filename:
        raise AnnotationError(f"{path}, line 1: no <filename> in this Pascal VOC file")
    photo = AnnotatedPhoto(path.parent / filename)
    for i, obj in enumerate(root.iter("object")):
        bnd = obj.find("bndbox")
        values = [bnd.findtext(k) if bnd is not None else None for k in ("xmin", "ymin", "xmax", "ymax")]
        try:
            photo.boxes.append(_box([float(v) for v in values], f"object {i + 1}"))  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            bad = next((v for v in values if v is not None and not _is_number(v)), None)
            needle = f">{bad}<" if bad else "<object"
            starts = [m.start() for m in re.finditer(re.escape(needle), text)]
            offset = starts[0] if bad and starts else (starts[i] if i < len(starts) else 0)
            reason = str(exc) if isinstance(exc, ValueError) and "box" in str(exc) else f"object {i + 1} needs numeric xmin, ymin, xmax, ymax in <bndbox>"
            raise AnnotationError(f"{path}, line {text.count(chr(10), 0, offset) + 1}: {reason}") from exc
        photo.products.append(obj.findtext("name"))
    return photo


def _is_number(value: str) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        return False
