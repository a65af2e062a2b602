"""A small Prometheus text exposition: request counts and latencies per route, catalogue gauges."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from typing import Callable

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Thread-safe counters and histograms; `render` gives the text format (version 0.0.4)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._latency: dict[tuple[str, str], list[int]] = {}
        self._latency_sum: dict[tuple[str, str], float] = defaultdict(float)
        self._batches: list[int] = [0] * 6  # embed batch sizes 1, 2, 3-4, 5-8, 9-16, >16
        self._gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, status)] += 1
            key = (method, route)
            counts = self._latency.setdefault(key, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._latency_sum[key] += seconds

    def observe_batch(self, size: int) -> None:
        with self._lock:
            self._batches[min(bisect.bisect_left((1, 2, 4, 8, 16), size), 5)] += 1

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self._gauges[name] = (help_text, read)

    def render(self) -> str:
        lines = ["# HELP productlens_http_requests_total HTTP requests by method, route and status.",
                 "# TYPE productlens_http_requests_total counter"]
        with self._lock:
            for (method, route, status), n in sorted(self._requests.items()):
                lines.append(f'productlens_http_requests_total{{method="{method}",route="{_esc(route)}",status="{status}"}} {n}')
            lines += ["# HELP productlens_http_request_duration_seconds Request latency.",
                      "# TYPE productlens_http_request_duration_seconds histogram"]
            for (method, route), counts in sorted(self._latency.items()):
                labels = f'method="{method}",route="{_esc(route)}"'
                total = 0
                for bound, n in zip((*BUCKETS, float("inf")), counts):
                    total += n
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(f'productlens_http_request_duration_seconds_bucket{{{labels},le="{le}"}} {total}')
                lines.append(f"productlens_http_request_duration_seconds_sum{{{labels}}} {self._latency_sum[(method, route)]:.6f}")
                lines.append(f"productlens_http_request_duration_seconds_count{{{labels}}} {total}")
            lines += ["# HELP productlens_embed_batches_total Model calls by number of queries batched together.",
                      "# TYPE productlens_embed_batches_total counter"]
            for label, n in zip(("1", "2", "3-4", "5-8", "9-16", "17+"), self._batches):
                lines.append(f'productlens_embed_batches_total{{size="{label}"}} {n}')
        for name, (help_text, read) in sorted(self._gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {float(read()):g}"]
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
