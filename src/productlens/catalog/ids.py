"""The product id rule, the same at every door (CLI, Python API, REST API, feeds), and the way
to bring ids stored before the rule into line (rename.py).

An id is 1 to 128 characters, with no '/' or '\\', no control characters, no space at either
end, and is not "." or "..". So every id can be written in a URL path once percent-encoded
(`/products/Mango%20ripe%201%20kg`), as a file name in an export, and on a command line.
"""

from __future__ import annotations

import re
import unicodedata

from ..errors import InvalidProductIdError

MAX_ID_LENGTH = 128
RULE = (f"1 to {MAX_ID_LENGTH} characters, no '/' or '\\', no control characters, "
        "no space at either end, not '.' or '..'")
_FORBIDDEN = re.compile(r"[/\\]")


def id_problem(product_id: object) -> str | None:
    """What is wrong with `product_id` under the rule, or None when it is allowed."""
    if not isinstance(product_id, str) or not product_id:
        return "it is empty"
    if len(product_id) > MAX_ID_LENGTH:
        return f"it is {len(product_id)} characters long"
    if found := _FORBIDDEN.search(product_id):
        return f"it contains {found.group()!r}"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in product_id):
        return "it contains a control character"
    if product_id != product_id.strip():
        return "it starts or ends with a space"
    if product_id in (".", ".."):
        return "it is a path step"
    return None


def check_product_id(product_id: str) -> str:
    """`product_id` itself when the rule allows it, else InvalidProductIdError saying why."""
    problem = id_problem(product_id)
    if problem is not None:
        raise InvalidProductIdError(f"product id {str(product_id)[:80]!r} is not allowed: {problem} (ids: {RULE})")
    return product_id


def fixed_id(product_id: str, taken: set[str]) -> str:
    """An allowed id close to a stored one that breaks the rule, not in `taken`: '/' and '\\'
    become '-', control characters go, spaces at the ends are trimmed, then a -2, -3 ... suffix
    if needed."""
    text = _FORBIDDEN.sub("-", "".join(c for c in product_id if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp")))
    base = text.strip()[:MAX_ID_LENGTH - 4].strip() or "product"
    if base in (".", ".."):
        base = "product"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate

