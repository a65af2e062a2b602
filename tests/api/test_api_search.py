"""POST /search and POST /recognize against the real server and the tiny catalogue."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from support import TINY_PRODUCTS


def upload(path_or_bytes, name: str = "q.jpg") -> dict:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    return {"image": (name, data, "application/octet-stream")}


@pytest.mark.parametrize("pid", list(TINY_PRODUCTS))
def test_search_finds_the_product(anon, query_photos, pid):
    r = anon.post("/search", files=upload(query_photos[pid]), data={"k": "3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["results"][0]["id"] == pid
    assert [h["rank"] for h in body["results"]] == [1, 2, 3]
    assert body["results"][0]["score"] >= body["results"][1]["score"]
    assert body["results"][0]["thumb_url"].startswith("/images/")
    assert sum(body["facets"].get("category", {}).values()) <= 3


def test_search_with_box_and_filter(anon, query_photos):
    photo = query_photos["Banana"]
    r = anon.post("/search", files=upload(photo), data={"k": "5", "box": "0.1,0.1,0.9,0.9"})
    assert r.status_code == 200 and r.json()["results"][0]["id"] == "Banana"
    r = anon.post("/search", files=upload(photo), data={"where": "id = 'Granny-Smith'"})
    assert [h["id"] for h in r.json()["results"]] == ["Granny-Smith"]
    r = anon.post("/search", files=upload(photo), data={"where": "id = 'nothing'"})
    assert r.status_code == 200 and r.json()["results"] == []


@pytest.mark.parametrize("name", ["empty.jpg", "notes.jpg", "truncated.jpg", "garbage.png", "bomb.png"])
def test_bad_uploads_are_clear_4xx(anon, bad_files, name):
    r = anon.post("/search", files=upload(bad_files[name], name))
    assert 400 <= r.status_code < 500, r.text
    error = r.json()["error"]
    assert error["code"] in {"empty-file", "not-an-image", "corrupt", "too-large"}
    assert error["message"]


def test_image_checked_by_decoding_not_by_name(anon, query_photos):
    png = io.BytesIO()
    Image.open(query_photos["Banana"]).save(png, "PNG")
    r = anon.post("/search", files=upload(png.getvalue(), "photo.txt"))
    assert r.status_code == 200 and r.json()["results"][0]["id"] == "Banana"
    r = anon.post("/search", files=upload(b"GIF89a not really", "real.gif"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "not-an-image"


@pytest.mark.parametrize("box", ["1,2,3", "nan,0,1,1", "a,b,c,d", "0,0,0.001,0.001"])
def test_bad_box(anon, query_photos, box):
    r = anon.post("/search", files=upload(query_photos["Banana"]), data={"box": box})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad-box"  # the documented code, every time


def test_bad_filter_and_k(anon, query_photos):
    r = anon.post("/search", files=upload(query_photos["Banana"]), data={"where": "price <<< 3"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad-filter"
    r = anon.post("/search", files=upload(query_photos["Banana"]), data={"k": "0"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid-request"
    r = anon.post("/search", data={"k": "3"})
    assert r.status_code == 422


def test_recognize(anon, query_photos):
    r = anon.post("/recognize", files=upload(query_photos["Arla-Standard-Milk"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["candidates"][0]["id"] == "Arla-Standard-Milk"
    assert body["known"] == (body["product"] is not None)
    assert body["known"] == (body["confidence"] >= body["threshold"])  # one scale: similarity is not compared
    if body["known"]:
        assert body["product"]["id"] == "Arla-Standard-Milk"


def test_upload_cap_and_pixel_cap(api_catalog, query_photos, serve_app):
    photo = query_photos["Banana"].read_bytes()
    with serve_app(api_catalog, max_upload_bytes=len(photo) - 1, max_pixels=100 * 100) as server, server.client(None) as c:
        r = c.post("/search", files=upload(photo))
        assert r.status_code == 413 and r.json()["error"]["code"] == "too-large"
        r = c.post("/search", content=b"x" * (len(photo) + 200_000), headers={"content-type": "multipart/form-data; boundary=x"})
        assert r.status_code == 413
        # chunked, with no Content-Length to check up front: stopped while streaming
        body = b"--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n" + photo * 8 + b"\r\n--x--\r\n"
        chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
        r = c.post("/search", content=chunks, headers={"content-type": "multipart/form-data; boundary=x"})
        assert r.status_code == 413 and r.json()["error"]["message"].startswith("request body is over")
        small = io.BytesIO()
        Image.open(query_photos["Banana"]).resize((200, 200)).save(small, "JPEG")
        r = c.post("/search", files=upload(small.getvalue()))
        assert r.status_code == 413 and "pixel" in r.json()["error"]["message"]


def test_text_search_alone_and_with_photo(anon, query_photos):
    r = anon.post("/search", data={"text": "banana", "k": "3"})
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["id"] == "Banana"
    r = anon.post("/search", files=upload(query_photos["Arla-Standard-Milk"]), data={"text": "milk", "k": "3"})
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["id"] == "Arla-Standard-Milk"
    r = anon.post("/search", data={"k": "3"})
    assert r.status_code == 422 and "image, a text" in r.json()["error"]["message"]
