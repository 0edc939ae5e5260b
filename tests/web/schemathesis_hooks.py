"""Schemathesis hooks of tests/web/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

POST /v1/returns takes one raw mail as ``message/rfc822``, which the document describes as
text; schemathesis has no serializer of its own for that media type. A string goes as its
UTF-8 bytes. A value of another type (made to test that a wrong type is refused) has no form
as the bytes of a mail: it goes as no body at all, which the API must refuse.
"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.serializer("message/rfc822")
def raw_mail(ctx: Any, value: Any) -> bytes | None:
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8") if isinstance(value, str) else None
