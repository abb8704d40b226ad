"""Responses shaped the way the console writes them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def status_line(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"

    def header_list(self) -> list[tuple[str, str]]:
        headers = list(self.headers)
        if self.content_type:
            headers.append(("Content-Type", self.content_type))
        headers.append(("Content-Length", str(len(self.body))))
        return headers


class ApiError(Exception):
    """Raised anywhere in a handler to answer with this response instead."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_line)
        self.response = response


def json_response(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":")).encode(), JSON_TYPE)


def error_response(
    status: int,
    message: str,
    error_fields: dict[str, str] | None = None,
    error_index: dict[str, list[int]] | None = None,
) -> Response:
    """`model.ErrorResponse`; the real server never sends the spec's `success` field."""
    return json_response(status, {"message": message, "error_fields": error_fields, "error_index": error_index})


def simulated_failure(status: int, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """A made-up answer: the console's JSON error shape for an error status, nothing otherwise."""
    if status < 400:
        return empty(status, headers)
    return Response(status, error_response(status, f"simulated failure {status}").body, JSON_TYPE, headers)


def node_not_found(node_id: str) -> ApiError:
    return ApiError(error_response(404, f"Node {node_id} not found"))


def plain_text(status: int, text: str) -> Response:
    """What Go's http.Error writes: the text, a newline, text/plain."""
    return Response(status, f"{text}\n".encode(), "text/plain; charset=utf-8", (("X-Content-Type-Options", "nosniff"),))


def empty(status: int, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, b"", None, headers)
