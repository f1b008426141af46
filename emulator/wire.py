"""HTTP-level value types shared by the emulator modules (no I/O here)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class HeaderMap(Mapping[str, str]):
    """Read-only, case-insensitive header mapping that keeps the sender's casing for display."""

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            self._items[name.lower()] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"HeaderMap({dict(self._items.values())!r})"


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request as the ARM logic sees it."""

    method: str
    path: str
    query: dict[str, str]
    headers: HeaderMap
    raw_body: bytes
    client_ip: str
    base_url: str  # scheme://host:port as the client addressed the emulator
    url: str  # absolute request URL, query included (event httpRequest.url)

    def json_body(self) -> Any:
        """Parsed JSON body, None when empty. Raises ArmError 400 on malformed JSON."""
        if not self.raw_body.strip():
            return None
        try:
            return json.loads(self.raw_body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArmError(400, "InvalidRequestContent", f"The request content was invalid: {exc}") from exc


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)

    def encoded_body(self) -> bytes:
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


class ArmError(Exception):
    """An ARM error answer: rendered as {"error": {"code", "message"}} with the given status."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def to_response(self) -> Response:
        return Response(self.status, {"error": {"code": self.code, "message": self.message}}, dict(self.headers))


# ARM error codes for statuses injected without an explicit code.
DEFAULT_ERROR_CODES: dict[int, str] = {
    400: "BadRequest",
    401: "AuthenticationFailed",
    403: "AuthorizationFailed",
    404: "ResourceNotFound",
    408: "RequestTimeout",
    409: "Conflict",
    412: "PreconditionFailed",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
