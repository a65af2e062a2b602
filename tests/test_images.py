from __future__ import annotations

import pytest
from PIL import Image

from productlens.errors import (
    CorruptImageError,
    EmptyFileError,
    ImageError,
    ImageTooLargeError,
    NotAnImageError,
)
from productlens.images import content_hash, load_image, read_bytes, to_rgb

EXPECTED = {
    "empty.jpg": EmptyFileError,
    "notes.jpg": NotAnImageError,
    "truncated.jpg": CorruptImageError,
    "garbage.png": (CorruptImageError, NotAnImageError),
    "bomb.png": ImageTooLargeError,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_files_raise_specific_errors_with_reason(bad_files, name):
    with pytest.raises(EXPECTED[name]) as info:
        load_image(bad_files[name])
    assert info.value.reason in {"empty-file", "not-an-image", "corrupt", "too-large"}
    assert info.value.source == str(bad_files[name])
    assert str(info.value)


@pytest.mark.parametrize(
    "name", ["cmyk.jpg", "gray16.png", "palette_alpha.png", "rgba.png", "animated.gif", "rotated.jpg", "gray.jpg"]
)
def test_unusual_images_become_rgb(odd_files, name):
    loaded = load_image(odd_files[name])
    assert loaded.image.mode == "RGB"
    assert loaded.sha256 == content_hash(odd_files[name].read_bytes())
    assert min(loaded.image.size) > 0


def test_notes_say_what_was_converted(odd_files):
    assert any("animated" in n for n in load_image(odd_files["animated.gif"]).notes)
    assert any("CMYK" in n for n in load_image(odd_files["cmyk.jpg"]).notes)
    assert any("8-bit" in n for n in load_image(odd_files["gray16.png"]).notes)
    assert any("white" in n for n in load_image(odd_files["rgba.png"]).notes)


def test_exif_orientation_is_applied(odd_files):
    loaded = load_image(odd_files["rotated.jpg"])
    assert (loaded.width, loaded.height) == (160, 120)  # as stored
    assert loaded.image.size == (120, 160)  # as displayed
    assert "EXIF orientation applied" in loaded.notes


def test_sixteen_bit_keeps_full_range(odd_files):
    img = load_image(odd_files["gray16.png"]).image
    lo, hi = img.convert("L").getextrema()
    assert lo <= 1 and hi >= 254  # scaled, not clipped to white


def test_transparent_pixels_become_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert to_rgb(rgba).getpixel((0, 0)) == (255, 255, 255)


def test_pixel_cap_is_configurable(odd_files):
    with pytest.raises(ImageTooLargeError):
        load_image(odd_files["gray.jpg"], max_pixels=100)


def test_draft_decodes_large_jpeg_smaller_but_reports_original_size(tmp_path):
    big = Image.new("RGB", (2400, 1800), (10, 120, 200))
    path = tmp_path / "big.jpg"
    big.save(path, quality=85)
    loaded = load_image(path, draft_size=256)
    assert (loaded.width, loaded.height) == (2400, 1800)
    assert 256 <= min(loaded.image.size) < 900


def test_read_bytes_refuses_oversized_files(tmp_path):
    path = tmp_path / "huge.jpg"
    path.write_bytes(b"\xff" * 2048)
    with pytest.raises(ImageTooLargeError):
        read_bytes(path, max_bytes=1024)


def test_missing_file_is_an_image_error(tmp_path):
    with pytest.raises(ImageError):
        load_image(tmp_path / "nope.jpg")


def test_bytes_and_pil_inputs(odd_files):
    data = odd_files["gray.jpg"].read_bytes()
    assert load_image(data).sha256 == content_hash(data)
    pil = Image.new("RGBA", (10, 10))
    assert load_image(pil).image.mode == "RGB"
