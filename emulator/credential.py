"""A TokenCredential that mints unsigned JWTs carrying chosen claims, and the decoder ARM-side."""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions

DEFAULT_TENANT_ID = "72f988bf-0000-4000-8000-000000000001"
DEFAULT_OID = "11111111-2222-4333-8444-000000000001"
DEFAULT_APPID = "11111111-2222-4333-8444-0000000000a1"
MANAGEMENT_SCOPE = "https://management.azure.com/.default"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_unsigned_jwt(claims: dict[str, Any]) -> str:
    """header.payload.signature; the signature is a fixed marker because nothing verifies it."""
    header = {"typ": "JWT", "alg": "none", "kid": "driftwarden-emulator"}
    parts = [json.dumps(header, separators=(",", ":")), json.dumps(claims, separators=(",", ":"))]
    return ".".join([*(_b64url(p.encode()) for p in parts), _b64url(b"unsigned")])


def decode_jwt_claims(token: str) -> dict[str, Any]:
    """Claims of a JWT without verifying it; ValueError if it is not a well-formed JWT."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise ValueError("a JWT has three base64url parts")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"undecodable JWT: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("JWT header and payload must be JSON objects")
    return claims


class EmulatorCredential:
    """azure.core TokenCredential (and SupportsTokenInfo) for the emulator.

    A user is modelled by passing `upn`; without it the token looks like a service principal /
    managed identity token (`idtyp: app`). `extra_claims` adds or overrides raw JWT claims.
    """

    def __init__(
        self,
        oid: str = DEFAULT_OID,
        appid: str = DEFAULT_APPID,
        name: str | None = "driftwarden-emulator-caller",
        upn: str | None = None,
        ipaddr: str | None = None,
        tid: str = DEFAULT_TENANT_ID,
        *,
        extra_claims: dict[str, Any] | None = None,
        lifetime_seconds: int = 3600,
    ) -> None:
        self.oid = oid
        self.appid = appid
        self.name = name
        self.upn = upn
        self.ipaddr = ipaddr
        self.tid = tid
        self.extra_claims = dict(extra_claims or {})
        self.lifetime_seconds = lifetime_seconds
        self.tokens_issued = 0

    def claims(self, *scopes: str) -> dict[str, Any]:
        """The raw JWT claims a token for these scopes carries."""
        now = int(time.time())
        scope = scopes[0] if scopes else MANAGEMENT_SCOPE
        audience = scope[: -len("/.default")] if scope.endswith("/.default") else scope
        claims: dict[str, Any] = {
            "aud": audience.rstrip("/") + "/",
            "iss": f"https://sts.windows.net/{self.tid}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_seconds,
            "aio": "emulator",
            "appid": self.appid,
            "appidacr": "2",
            "idp": f"https://sts.windows.net/{self.tid}/",
            "idtyp": "user" if self.upn else "app",
            "oid": self.oid,
            "sub": self.oid,
            "tid": self.tid,
            "uti": uuid.uuid4().hex[:22],
            "ver": "1.0",
        }
        if self.name is not None:
            claims["name"] = self.name
        if self.upn is not None:
            claims["upn"] = self.upn
            claims["unique_name"] = self.upn
            claims["scp"] = "user_impersonation"
        if self.ipaddr is not None:
            claims["ipaddr"] = self.ipaddr
        claims.update(self.extra_claims)
        return claims

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        info = self.get_token_info(*scopes)
        return AccessToken(info.token, info.expires_on)

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        body = self.claims(*scopes)
        self.tokens_issued += 1
        return AccessTokenInfo(encode_unsigned_jwt(body), int(body["exp"]))
