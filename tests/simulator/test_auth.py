"""API keys, access and refresh tokens, expiry, and what each role may do."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from ci_scan.simulator import ADMIN_TOKEN, READONLY_TOKEN, STANDARD_TOKEN, ConsoleSimulator, make_api_token
from tests.contract import SpecContract
from tests.simulator.helpers import Console, fields_filter

BAD_KEY = {
    "message": "",
    "error_fields": {"api_token": "should only contain alphabets, numbers and valid characters"},
    "error_index": None,
}


class FakeClock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def test_the_sample_api_keys_have_the_console_format() -> None:
    for token in (ADMIN_TOKEN, STANDARD_TOKEN, READONLY_TOKEN):
        assert "=" not in token
        namespace, key = base64.b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        assert namespace == "default" and uuid.UUID(key).version == 5
    assert len({ADMIN_TOKEN, STANDARD_TOKEN, READONLY_TOKEN}) == 3


@pytest.mark.parametrize(
    "api_token",
    [
        "not a key!",
        ADMIN_TOKEN + "=",  # padded: the console decodes without padding
        make_api_token("Default", uuid.UUID(int=1)),  # namespace must start lower-case
        base64.b64encode(b"default:not-a-uuid").decode().rstrip("="),
        "",
    ],
)
def test_a_badly_formatted_key_is_a_400(anonymous: Console, api_token: str) -> None:
    response = anonymous.http.post("/deepfence/auth/token", json={"api_token": api_token})
    assert (response.status_code, response.json()) == (400, BAD_KEY)


def test_a_well_formed_unknown_key_is_a_500_not_a_401(anonymous: Console) -> None:
    response = anonymous.http.post(
        "/deepfence/auth/token", json={"api_token": make_api_token("acme", uuid.UUID(int=5))}
    )
    assert response.status_code == 500
    assert response.json() == {
        "message": "sql: no rows in result set",
        "error_fields": None,
        "error_index": None,
    }


def test_a_missing_key_fails_validation(anonymous: Console) -> None:
    with anonymous.invalid_requests():
        response = anonymous.http.post("/deepfence/auth/token", json={})
    assert response.status_code == 400
    assert list(response.json()["error_fields"]) == ["api_token"]


def test_tokens_look_like_hs256_jwts_with_the_documented_claims(anonymous: Console) -> None:
    tokens = anonymous.login(STANDARD_TOKEN)
    header = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT"}
    access, refresh = claims(tokens["access_token"]), claims(tokens["refresh_token"])
    assert (access["user_id"], access["role"], access["grant_type"]) == (2, "standard-user", "api_token")
    assert access["exp"] - access["iat"] == 30 * 60
    assert refresh["exp"] - refresh["iat"] == 26 * 3600
    assert refresh["role"] == "standard-user"


def test_an_expired_access_token_is_a_plain_text_401_until_refreshed(contract: SpecContract) -> None:
    clock = FakeClock()
    console = Console(ConsoleSimulator(clock=clock, access_token_ttl=60), contract)
    tokens = console.login()
    assert console.http.get("/deepfence/registryaccount").status_code == 200
    clock.now += 60
    expired = console.http.get("/deepfence/registryaccount")
    assert (expired.status_code, expired.text) == (401, "token is expired\n")
    assert expired.headers["content-type"] == "text/plain; charset=utf-8"
    refreshed = console.http.post(
        "/deepfence/auth/token/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert refreshed.status_code == 200
    console.http.headers["Authorization"] = f"Bearer {refreshed.json()['access_token']}"
    assert console.http.get("/deepfence/registryaccount").status_code == 200
    clock.now += 26 * 3600
    late = console.http.post(
        "/deepfence/auth/token/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert (late.status_code, late.text) == (401, "token is expired\n")


def test_access_tokens_can_expire_after_a_number_of_requests(console: Console) -> None:
    console.sim.expire_access_tokens_after(2)
    tokens = console.login()
    codes = [console.http.get("/deepfence/registryaccount").status_code for _ in range(3)]
    assert codes == [200, 200, 401]
    refreshed = console.http.post(
        "/deepfence/auth/token/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    console.http.headers["Authorization"] = f"Bearer {refreshed.json()['access_token']}"
    assert console.http.get("/deepfence/registryaccount").status_code == 200
    console.sim.expire_access_tokens_after(None)
    assert [console.http.get("/deepfence/registryaccount").status_code for _ in range(3)] == [200] * 3


def test_the_limit_can_be_set_when_the_simulator_is_built(contract: SpecContract) -> None:
    console = Console(ConsoleSimulator(access_token_uses=1), contract)
    console.login()
    assert [console.http.get("/deepfence/registryaccount").status_code for _ in range(2)] == [200, 401]


@pytest.mark.parametrize(
    ("mangle", "use_as_refresh"),
    [
        (lambda t: t["access_token"][:-2] + "xx", False),  # bad signature
        (lambda t: "abc.def", False),  # not a JWT
        (lambda t: t["refresh_token"], False),  # a refresh token is no access token
        (lambda t: t["access_token"], True),  # and the other way round
    ],
)
def test_invalid_tokens_are_unauthorized(console: Console, mangle: Any, use_as_refresh: bool) -> None:
    token = mangle(console.login())
    path = "/deepfence/auth/token/refresh" if use_as_refresh else "/deepfence/registryaccount"
    method = "POST" if use_as_refresh else "GET"
    with console.invalid_requests():
        response = console.http.request(method, path, headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.text) == (401, "token is unauthorized\n")


def test_a_missing_token_and_the_jwt_cookie(anonymous: Console) -> None:
    with anonymous.invalid_requests():
        missing = anonymous.http.get("/deepfence/registryaccount")
        assert (missing.status_code, missing.text) == (401, "no token found\n")
        access = anonymous.login()["access_token"]
        del anonymous.http.headers["Authorization"]
        with_cookie = anonymous.http.get("/deepfence/registryaccount", headers={"Cookie": f"jwt={access}"})
    assert with_cookie.status_code == 200


def _calls(console: Console) -> dict[str, Any]:
    image = console.sim.dataset.image("team/clean").node_id
    scan_id = console.start_one("team/app", "1.4.2")
    results_body = {"scan_id": scan_id, "fields_filter": fields_filter(), "window": {"offset": 0, "size": 0}}
    return {
        "list registries": lambda: console.http.get("/deepfence/registryaccount"),
        "list images": lambda: console.images("docker_hub-acme-2"),
        "sync": lambda: console.post("/registryaccount/docker_hub-acme-2/sync", None),
        "start": lambda: console.start(image),
        "status": lambda: console.status(scan_id),
        "results": lambda: console.post("/scan/results/vulnerability", results_body),
        "stop": lambda: console.stop(scan_id),
    }


@pytest.mark.parametrize(
    ("api_token", "allowed"),
    [
        (ADMIN_TOKEN, {"list registries", "list images", "sync", "start", "status", "results", "stop"}),
        (STANDARD_TOKEN, {"list registries", "list images", "start", "status", "results", "stop"}),
        (READONLY_TOKEN, {"list registries", "list images", "status", "results"}),
    ],
    ids=["admin", "standard-user", "read-only-user"],
)
def test_roles(console: Console, api_token: str, allowed: set[str]) -> None:
    calls = _calls(console)
    console.login(api_token)
    outcomes = {name: call() for name, call in calls.items()}
    assert {name for name, response in outcomes.items() if response.status_code < 300} == allowed
    for name in set(calls) - allowed:
        response = outcomes[name]
        assert (response.status_code, response.content, response.headers.get("content-type")) == (
            403,
            b"",
            None,
        )


def test_permissions_are_checked_before_the_body(console: Console) -> None:
    console.login(READONLY_TOKEN)
    with console.invalid_requests():
        assert console.post("/scan/start/vulnerability", {"nonsense": True}).status_code == 403
