"""Checks HTTP exchanges against the console's OpenAPI spec (../shared/deepfence/openapi.yaml)."""

from __future__ import annotations

import httpx

from ci_scan.simulator import ConsoleSimulator
from tests.conftest import shared_path

BASE_URL = "http://console.test"


class SpecContract:
    """Validates requests and responses with openapi-core against ../shared/deepfence/openapi.yaml."""

    def __init__(self) -> None:
        from openapi_core import OpenAPI

        self.openapi = OpenAPI.from_path(shared_path("deepfence", "openapi.yaml"))
        self.no_content = self._statuses_without_content()
        self.checked = 0

    def _statuses_without_content(self) -> set[tuple[str, str, str]]:
        found = set()
        for path, item in (self.openapi.spec / "paths").items():
            for method, operation in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    for status, response in (operation / "responses").items():
                        if "content" not in response:
                            found.add((str(path), str(method), str(status)))
        return found

    def check(self, response: httpx.Response, *, request_too: bool) -> None:
        from openapi_core.testing import MockRequest, MockResponse

        request = response.request
        path = request.url.path
        mock_request = MockRequest(
            BASE_URL,
            request.method,
            path,
            headers=dict(request.headers),
            data=request.content,
            content_type=request.headers.get("content-type", ""),
            view_args=self._path_params(path),
        )
        if request_too:
            self.openapi.validate_request(mock_request)
        mock_response = MockResponse(
            response.content, response.status_code, content_type=response.headers.get("content-type", "")
        )
        self.openapi.validate_response(mock_request, mock_response)
        pattern = "/deepfence/registryaccount/{registry_id}/sync" if path.endswith("/sync") else path
        if (pattern, request.method.lower(), str(response.status_code)) in self.no_content:
            # The spec declares no body: only the documented plain-text 401 may carry one.
            if response.status_code == 401:
                assert response.headers["content-type"].startswith("text/plain"), response.headers
            else:
                assert response.content == b"", response.content
        self.checked += 1

    @staticmethod
    def _path_params(path: str) -> dict[str, str]:
        parts = path.split("/")
        if path.endswith("/sync") and len(parts) == 5:
            return {"registry_id": parts[3]}
        return {}


class CheckedTransport(httpx.BaseTransport):
    """Passes each exchange to the simulator, then validates both halves against the spec."""

    def __init__(self, sim: ConsoleSimulator, contract: SpecContract) -> None:
        self.inner = httpx.WSGITransport(app=sim)
        self.contract = contract
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        response.request = request
        self.contract.check(response, request_too=True)
        self.paths.append(request.url.path)
        return response
