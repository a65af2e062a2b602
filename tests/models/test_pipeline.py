import numpy as np
import pytest

from productlens.errors import CorruptImageError, EmptyFileError, ImageError, NotAnImageError
from productlens.engine.search import query_image
from productlens.pipeline import embed_sources


@pytest.fixture()
def broken_photos(tmp_path, grocery):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    truncated = tmp_path / "truncated.jpg"
    data = grocery["golden"][0].read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    return {"empty": empty, "text": text, "truncated": truncated}


def test_order_errors_and_progress(lite0, grocery, broken_photos):
    good = grocery["golden"] + grocery["oatghurt"]
    items = [
        ("g0", good[0]), ("empty", broken_photos["empty"]), ("g1", good[1]),
        ("text", broken_photos["text"]), ("o0", good[2]), ("truncated", broken_photos["truncated"]),
        ("o1", good[3]),
    ]
    done = []
    results = list(
        embed_sources(lite0, items, source_of=lambda item: item[1], batch_size=3, progress=done.append)
    )
    assert [r.item[0] for r in results] == [name for name, _ in items]
    assert sum(done) == len(items)
    errors = {r.item[0]: r.error for r in results if r.error is not None}
    assert isinstance(errors.pop("empty"), EmptyFileError)
    assert isinstance(errors.pop("text"), NotAnImageError)
    assert isinstance(errors.pop("truncated"), CorruptImageError)
    assert not errors
    vectors = {r.item[0]: r.vector for r in results if r.ok}
    assert all(r.loaded.sha256 and r.loaded.width == 348 for r in results if r.ok)
    expected = lite0.embed([lite0_image(p) for p in good])
    for name, row in zip(["g0", "g1", "o0", "o1"], expected):
        assert np.allclose(vectors[name], row, atol=1e-5)


def lite0_image(path):
    from productlens.images import load_image

    return load_image(path, draft_size=256).image


def test_empty_input(lite0):
    assert list(embed_sources(lite0, [])) == []


def test_query_path_embeds_one_photo(lite0, grocery, broken_photos):
    vector = lite0.embed([query_image(grocery["golden"][0], None, lite0.draft_size)])[0]
    assert vector.shape == (1280,) and abs(np.linalg.norm(vector) - 1) < 1e-5
    batched = next(iter(embed_sources(lite0, [grocery["golden"][0]]))).vector
    np.testing.assert_allclose(vector, batched, atol=1e-5)  # one query embeds as ingest does
    with pytest.raises(ImageError):
        query_image(broken_photos["text"], None, lite0.draft_size)
