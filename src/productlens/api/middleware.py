"""The server's outermost layer: a time budget per request, a cap on request bodies, metrics.

Every request runs with a time budget (budget.py): the engine gives up where it would wait or
loop past it (503 while another process holds the write lock, 504 otherwise), and should a
request still be running just after the deadline (a client trickling its body, say), this layer
answers 504 itself and lets the work finish in the background. At shutdown, requests still running after
uvicorn's grace period are answered 503 rather than cut off with a traceback.
"""

from __future__ import annotations

import asyncio
import time

from .. import budget
from .errors import BodyTooLarge, error_response
from .metrics import Metrics

LATE_S = 1.0  # past the budget, how long the engine has to give up by itself (its error says more) before 504


class ServeMiddleware:
    """Caps request bodies (before they are read in full), bounds each request's time, records per-route metrics."""

    def __init__(self, app, *, metrics: Metrics, max_body: int, budget_s: float) -> None:
        self.app, self.metrics, self.max_body, self.budget_s = app, metrics, max_body, budget_s

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500, "sent": False, "abandoned": False}
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await error_response(413, "too-large", f"request body is over the {self.max_body:,}-byte cap")(scope, receive, send)
            self._record(scope, 413, started)
            return
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge(f"request body is over the {self.max_body:,}-byte cap")
            return message

        async def tracked_send(message):
            if status["abandoned"]:
                return  # answered already (timeout or shutdown): the late response goes nowhere
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
            await send(message)

        async def answer(code: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
            status["abandoned"] = True
            if not status["sent"]:
                status["code"] = code
                await error_response(code, kind, message, headers)(scope, receive, send)

        with budget.time_budget(self.budget_s):  # the task below (and the threads it runs) inherits it
            task = asyncio.ensure_future(self.app(scope, counted_receive, tracked_send))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.budget_s + LATE_S)
        except asyncio.CancelledError:  # the server is shutting down and its grace period is over
            _abandon(task)
            await answer(503, "shutting-down", "the server is shutting down; try again shortly", {"Retry-After": "5"})
            self._record(scope, 503, started)
            return
        if task not in done:
            _abandon(task)
            await answer(504, "timeout", f"the request took longer than its {self.budget_s:g} s budget")
        else:
            try:
                task.result()
            except BodyTooLarge:
                if status["sent"]:
                    raise
                await answer(413, "too-large", f"request body is over the {self.max_body:,}-byte cap")
        self._record(scope, status["code"], started)

    def _record(self, scope, status: int, started: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or ("/static" if scope["path"].startswith("/static/") else "unmatched")
        self.metrics.observe_request(scope["method"], path, status, time.perf_counter() - started)


def _abandon(task: asyncio.Future) -> None:
    """Cancel a request's task (work in a thread still finishes: the engine checks the budget) and
    collect its outcome, so that nothing is logged as never retrieved."""
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
