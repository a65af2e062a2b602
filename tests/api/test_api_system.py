"""/healthz, /metrics, OpenAPI, the web page's files."""

from __future__ import annotations

import re


def test_healthz(anon):
    body = anon.get("/healthz").json()
    assert body["status"] == "ok" and body["products"] >= 3 and body["indexed_vectors"] == body["images"]
    assert body["model"].startswith("efficientnet-lite0/")


def test_metrics_prometheus_format(anon, query_photos):
    anon.post("/search", files={"image": ("q.jpg", query_photos["Banana"].read_bytes())})
    anon.get("/products/does-not-exist")
    text = anon.get("/metrics").text
    assert re.search(r'productlens_http_requests_total\{method="POST",route="/search",status="200"\} [1-9]', text)
    assert 'route="/products/{product_id}",status="404"' in text
    assert re.search(r'productlens_http_request_duration_seconds_count\{method="POST",route="/search"\} [1-9]', text)
    assert re.search(r"^productlens_catalog_products [0-9]+$", text, re.M)
    for line in text.splitlines():
        assert line.startswith("#") or re.match(r'^[a-z_]+(\{.*\})? (\+Inf|[0-9.e+-]+)$', line), line


def test_openapi_and_docs(anon):
    spec = anon.get("/openapi.json").json()
    for path in ["/search", "/recognize", "/products", "/products/{product_id}", "/products/{product_id}/similar",
                 "/products/{product_id}/images", "/images/{image_id}", "/healthz", "/metrics"]:
        assert path in spec["paths"], path
    assert anon.get("/docs").status_code == 200


def test_web_page_is_self_contained(anon):
    html = anon.get("/").text
    assert "<script src=\"/static/app.js\">" in html
    for asset in ["/static/app.js", "/static/style.css"]:
        r = anon.get(asset)
        assert r.status_code == 200
        assert not re.search(r"https?://", r.text), f"{asset} refers to another host"
    assert not re.search(r"https?://", html)
