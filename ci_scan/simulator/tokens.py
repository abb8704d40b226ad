"""API keys, users and the JWT-looking access and refresh tokens the console hands out."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Role(str, Enum):
    ADMIN = "admin"
    STANDARD = "standard-user"
    READ_ONLY = "read-only-user"


class Permission(Enum):
    SCAN_READ = "scan/read"
    SCAN_WRITE = "scan/write"
    REGISTRY_READ = "container-registry/read"
    REGISTRY_WRITE = "container-registry/write"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.STANDARD: frozenset({Permission.SCAN_READ, Permission.SCAN_WRITE, Permission.REGISTRY_READ}),
    Role.READ_ONLY: frozenset({Permission.SCAN_READ, Permission.REGISTRY_READ}),
}

_RAW_BASE64 = re.compile(r"^[A-Za-z0-9+/]+$")
_KEY_TEXT = re.compile(r"^[a-z][a-z0-9-]{0,63}:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def make_api_token(namespace: str, key: uuid.UUID) -> str:
    """The API key format: unpadded base64 of `<namespace>:<uuid>`."""
    return base64.b64encode(f"{namespace}:{key}".encode()).decode().rstrip("=")


def api_token_is_well_formed(token: str) -> bool:
    """What the console checks before looking the key up."""
    if not _RAW_BASE64.match(token) or len(token) % 4 == 1:
        return False
    try:
        text = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    return bool(_KEY_TEXT.match(text))


@dataclass(frozen=True)
class ApiUser:
    """A console user and the API key that stands for them."""

    user_id: int
    email: str
    role: Role
    api_token: str

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


def _key(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.users.ci-scan-simulator.test")


ADMIN_TOKEN = make_api_token("default", _key("admin"))
STANDARD_TOKEN = make_api_token("default", _key("standard"))
READONLY_TOKEN = make_api_token("default", _key("readonly"))


def default_users() -> list[ApiUser]:
    return [
        ApiUser(1, "admin@example.com", Role.ADMIN, ADMIN_TOKEN),
        ApiUser(2, "developer@example.com", Role.STANDARD, STANDARD_TOKEN),
        ApiUser(3, "auditor@example.com", Role.READ_ONLY, READONLY_TOKEN),
    ]


ACCESS = "access_token"
REFRESH = "refresh_token"


class TokenRejected(Exception):
    """A bearer token the console refuses; the text is jwtauth's error message."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Mints and verifies HS256 tokens with a key of its own, like the console's Redis-held key."""

    def __init__(self, clock: Callable[[], float], access_ttl: float, refresh_ttl: float) -> None:
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def issue_pair(self, user: ApiUser) -> dict[str, str]:
        return {"access_token": self._mint(user, ACCESS), "refresh_token": self._mint(user, REFRESH)}

    def _mint(self, user: ApiUser, kind: str) -> str:
        now = int(self._clock())
        ttl = self.access_ttl if kind == ACCESS else self.refresh_ttl
        claims = {
            "user_id": user.user_id,
            "email": user.email,
            "role": user.role.value,
            "grant_type": "api_token" if kind == ACCESS else REFRESH,
            "token_type": kind,
            "iat": now,
            "exp": now + int(ttl),
            "jti": uuid.uuid4().hex,
        }
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        return f"{header}.{payload}.{self._sign(header, payload)}"

    def _sign(self, header: str, payload: str) -> str:
        return _b64url(hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest())

    def verify(self, token: str, kind: str) -> dict[str, Any]:
        """The token's claims, or TokenRejected with the text the console answers."""
        parts = token.split(".")
        if len(parts) != 3 or not hmac.compare_digest(parts[2], self._sign(parts[0], parts[1])):
            raise TokenRejected("token is unauthorized")
        try:
            claims = json.loads(_b64url_decode(parts[1]))
        except ValueError as exc:
            raise TokenRejected("token is unauthorized") from exc
        if not isinstance(claims, dict) or claims.get("token_type") != kind:
            raise TokenRejected("token is unauthorized")
        if self._clock() >= claims["exp"]:
            raise TokenRejected("token is expired")
        return claims
