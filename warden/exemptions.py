"""Opt-out tags, exactly as the design brief fixes them.

`warden-exempt` (check ids, comma-separated, or `*`), `warden-exempt-until` (YYYY-MM-DD = end of that day
UTC, or an ISO 8601 timestamp; required, in the future, at most `max_days` ahead) and
`warden-exempt-reason` (required, non-empty). Tag names match case-insensitively. An exemption that
fails any rule is refused, and the refusal says why.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping

from remediators import props

EXEMPT_TAG = "warden-exempt"
UNTIL_TAG = "warden-exempt-until"
REASON_TAG = "warden-exempt-reason"

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ExemptionStatus(str, enum.Enum):
    NONE = "none"
    HONOURED = "honoured"
    REFUSED = "refused"


@dataclass(frozen=True)
class Exemption:
    status: ExemptionStatus
    checks: frozenset[str] = frozenset()  # {"*"} for every check
    until: datetime | None = None
    reason: str = ""
    problem: str = ""  # why it was refused
    raw_until: str = ""

    def covers(self, check_id: str) -> bool:
        return bool(self.checks) and ("*" in self.checks or check_id.lower() in self.checks)

    def honoured_for(self, check_id: str) -> bool:
        return self.status is ExemptionStatus.HONOURED and self.covers(check_id)

    def days_left(self, now: datetime) -> float | None:
        return None if self.until is None else round((self.until - now).total_seconds() / 86400, 1)

    def as_record(self) -> dict[str, Any]:
        return {"status": self.status.value, "checks": sorted(self.checks),
                "until": self.until.isoformat() if self.until else self.raw_until or None,
                "reason": self.reason, "problem": self.problem or None}


NO_EXEMPTION = Exemption(ExemptionStatus.NONE)


def read(resource: Mapping[str, Any], now: datetime, max_days: int = 90) -> Exemption:
    # Fast path for the usual resource, which has no exemption (this runs for every resource read): when no tag
    # name contains the exempt tag's name once lower-cased (one scan of the joined names), props.tags() below
    # would find no such tag either. A name that is not a string makes join raise; the full reading decides.
    raw = resource.get("tags") if type(resource) is dict and "tags" in resource else props.get(resource, "tags")
    if type(raw) is dict:
        try:
            names = "\n".join(raw).lower()
        except TypeError:
            names = EXEMPT_TAG
        if EXEMPT_TAG not in names:
            return NO_EXEMPTION
    tags = props.tags(resource)
    listed = tags.get(EXEMPT_TAG)
    if listed is None:
        return NO_EXEMPTION
    checks = frozenset(part.strip().lower() for part in listed.split(",") if part.strip())
    reason = tags.get(REASON_TAG, "").strip()
    raw_until = tags.get(UNTIL_TAG, "").strip()

    def refused(problem: str, until: datetime | None = None) -> Exemption:
        return Exemption(ExemptionStatus.REFUSED, checks, until, reason, problem, raw_until)

    if not checks:
        return refused(f"tag {EXEMPT_TAG} lists no check ids (use ids separated by commas, or *)")
    if not raw_until:
        return refused(f"tag {UNTIL_TAG} is missing: an exemption needs an expiry (YYYY-MM-DD)")
    until = parse_until(raw_until)
    if until is None:
        return refused(f"tag {UNTIL_TAG}={raw_until!r} is not a date (YYYY-MM-DD) or ISO 8601 timestamp")
    if not reason:
        return refused(f"tag {REASON_TAG} is missing or empty: an exemption needs a reason", until)
    if until <= now:
        return refused(f"exemption expired at {until.isoformat()}", until)
    if until - now > timedelta(days=max_days):
        return refused(f"exemption runs until {until.date().isoformat()}, more than the allowed {max_days} days ahead", until)
    return Exemption(ExemptionStatus.HONOURED, checks, until, reason, "", raw_until)


def parse_until(text: str) -> datetime | None:
    try:
        if _DATE_ONLY.match(text):
            # date.fromisoformat reads an ASCII YYYY-MM-DD exactly as strptime does (and rejects the same
            # dates), at a fraction of the cost; strptime stays for other digits (\d matches any Unicode digit).
            if text.isascii() and len(text) == 10:
                day = date.fromisoformat(text)
            else:
                day = datetime.strptime(text, "%Y-%m-%d").date()
            return datetime.combine(day, time.max, tzinfo=timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
