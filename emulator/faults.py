"""Injected failures and delays, matched by method and a case-insensitive path substring."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from emulator.wire import DEFAULT_ERROR_CODES, ArmError


@dataclass
class Fault:
    """A rule answering the next `remaining` matching requests (None = every one) with `status`.

    With `status` None the rule only delays the request (`delay` seconds) and lets it through.
    """

    method: str | None
    path_contains: str
    status: int | None
    headers: dict[str, str]
    remaining: int | None
    delay: float
    error_code: str | None
    message: str | None
    hits: int = 0
    _cancelled: bool = field(default=False, repr=False)

    def matches(self, method: str, path: str) -> bool:
        if self._cancelled or self.remaining == 0:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_contains.lower() in path.lower()

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def exhausted(self) -> bool:
        return self._cancelled or self.remaining == 0

    def to_error(self) -> ArmError:
        assert self.status is not None
        code = self.error_code or DEFAULT_ERROR_CODES.get(self.status, "InjectedFault")
        message = self.message or f"Injected fault: {self.status} {code}."
        return ArmError(self.status, code, message, self.headers)


class FaultTable:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """First matching live rule, counted down atomically (so concurrent requests share `times`)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            for fault in self._faults:
                fault.cancel()
            self._faults.clear()
