"""GET /access: what the key sent may do, so the web page shows write controls only when they work."""

from __future__ import annotations


def test_access_by_key(live_server, client, anon):
    with live_server.client("wrong") as wrong:
        for c, can_write in ((anon, False), (wrong, False), (client, True)):
            assert c.get("/access").json() == {"writes_enabled": True, "can_read": True, "can_write": can_write}


def test_access_read_only_and_read_key_servers(serve_copy):
    with serve_copy() as server, server.client(None) as c:
        assert c.get("/access").json() == {"writes_enabled": False, "can_read": True, "can_write": False}
    with serve_copy(api_key="w", read_key="r") as server:
        for key, expected in {None: (False, False), "r": (True, False), "w": (True, True)}.items():
            with server.client(key) as c:
                body = c.get("/access").json()  # open without a key, like /healthz
                assert (body["can_read"], body["can_write"]) == expected and body["writes_enabled"]
