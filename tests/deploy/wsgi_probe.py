"""A WSGI app that answers with what gunicorn handed it, for tests of gunicorn behind nginx."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = json.dumps(
        {
            "url_scheme": environ["wsgi.url_scheme"],
            "remote_addr": environ.get("REMOTE_ADDR"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING"),
            "headers": {key: value for key, value in environ.items() if key.startswith("HTTP_")},
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
