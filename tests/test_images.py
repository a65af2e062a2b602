from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from PIL import Image

from productlens.errors import (
    CorruptImageError,
    EmptyFileError,
    ImageError,
    ImageTooLargeError,
    NotAFileError,
    NotAnImageError,
    ReadTimeoutError,
)
from productlens.images import content_hash, load_image, read_bytes, to_rgb

from guards import time_limit

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


# --- only regular files are read (issue #12: a FIFO hung `add` while it held the write lock) -----


def _special_files(root: Path) -> dict[str, Path]:
    """A FIFO, a socket, a directory, a symlink loop and a character device, all named like photos."""
    fifo = root / "fifo.jpg"
    os.mkfifo(fifo)
    sock_path = root / "sock.jpg"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    sock.close()  # the socket file stays on disk
    (root / "folder.jpg").mkdir()
    (root / "loop.jpg").symlink_to(root / "loop.jpg")
    (root / "device.jpg").symlink_to("/dev/null")  # /dev/zero would never end (nor spare memory)
    return {"fifo": fifo, "socket": sock_path, "directory": root / "folder.jpg",
            "symlink loop": root / "loop.jpg", "character device": root / "device.jpg"}


@pytest.mark.parametrize("kind", ["fifo", "socket", "directory", "symlink loop", "character device"])
def test_non_regular_files_are_refused_before_opening(tmp_path, kind):
    path = _special_files(tmp_path)[kind]
    with time_limit(5):  # opening a FIFO for reading blocks until a writer comes
        with pytest.raises(NotAFileError) as info:
            read_bytes(path)
        with pytest.raises(NotAFileError):
            load_image(path)
    assert info.value.reason == "not-a-file" and info.value.source == str(path)
    assert kind.split()[-1].replace("fifo", "FIFO") in str(info.value)


def test_a_symlink_to_a_photo_is_read(tmp_path, odd_files):
    link = tmp_path / "link.jpg"
    link.symlink_to(odd_files["gray.jpg"])
    assert read_bytes(link) == odd_files["gray.jpg"].read_bytes()


def test_a_file_larger_than_its_size_says_is_capped():
    # /proc files are regular with st_size 0, like a file that grows while it is read.
    with pytest.raises(ImageTooLargeError, match="grew past the 16-byte cap"):
        read_bytes("/proc/self/status", max_bytes=16)


def test_a_read_still_going_after_the_time_cap_is_abandoned(tmp_path):
    path = tmp_path / "slow.jpg"
    path.write_bytes(b"\xff" * (3 << 20))  # several chunks: the clock is checked after each
    with pytest.raises(ReadTimeoutError) as info:
        read_bytes(path, timeout_s=0)
    assert info.value.reason == "read-timeout"
    assert len(read_bytes(path)) == 3 << 20


# --- notes say only what happened ------------------------------------------------------------


@pytest.mark.parametrize("orientation", [None, 1])
def test_upright_images_get_no_orientation_note(tmp_path, orientation):
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    path = tmp_path / "upright.jpg"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(path, exif=exif)
    loaded = load_image(path)
    assert loaded.image.size == (40, 30)
    assert not any("orientation" in note for note in loaded.notes)


def test_a_mirrored_orientation_is_applied_and_noted(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 2  # mirrored left-right
    img = Image.new("RGB", (40, 30), (255, 255, 255))
    img.paste((0, 0, 0), (0, 0, 10, 30))  # black on the left as stored
    path = tmp_path / "mirrored.png"
    img.save(path, exif=exif)
    loaded = load_image(path)
    assert "EXIF orientation applied" in loaded.notes
    assert loaded.image.getpixel((39, 15)) == (0, 0, 0)  # black on the right as displayed


def test_a_path_with_a_nul_character_is_not_a_file():
    with pytest.raises(NotAFileError, match="NUL"):
        read_bytes("photo\0.jpg")
