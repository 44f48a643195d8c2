"""How the CLI's client (service/client.py) reads each answer into an exit code, with
httpx's MockTransport standing in for the service."""

from __future__ import annotations

import httpx
import pytest

from service.client import REFUSED, UNREACHABLE, USAGE, ServiceClient, ServiceError, default_url, path_id


def client_answering(status: int, body: object = None, *, text: str | None = None,
                     seen: list[httpx.Request] | None = None) -> ServiceClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if text is not None:
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status)

    return ServiceClient("http://tocsin.test:8080/", "k-1", transport=httpx.MockTransport(handler))


def test_a_success_is_its_json_and_carries_the_key():
    seen: list[httpx.Request] = []
    client = client_answering(200, {"items": []}, seen=seen)
    assert client.call("GET", "/v1/alerts", params={"status": "firing"}) == {"items": []}
    assert seen[0].headers["authorization"] == "Bearer k-1"
    assert str(seen[0].url) == "http://tocsin.test:8080/v1/alerts?status=firing"
    assert client_answering(204).call("DELETE", "/v1/silences/x") is None


@pytest.mark.parametrize(("status", "code"), [
    (401, REFUSED), (403, REFUSED), (404, REFUSED), (409, REFUSED), (500, REFUSED),
    (400, USAGE), (415, USAGE), (422, USAGE),
    (502, UNREACHABLE), (503, UNREACHABLE), (504, UNREACHABLE),
])
def test_problems_map_to_exit_codes_with_their_detail_and_errors(status, code):
    problem = {"type": "about:blank", "title": "t", "status": status, "detail": "the detail",
               "errors": [{"index": 0, "path": "severity", "message": "unknown severity"},
                          {"file": "a.rules", "line": 3, "column": 7, "code": "E104", "message": "twice"}]}
    with pytest.raises(ServiceError) as caught:
        client_answering(status, problem).call("GET", "/v1/alerts")
    assert caught.value.exit_code == code
    assert caught.value.message == f"{status} the detail"
    assert caught.value.details == ["severity: unknown severity", "a.rules:3:7: E104 twice"]


def test_an_answer_that_is_not_json_is_not_the_service():
    with pytest.raises(ServiceError) as caught:
        client_answering(200, text="<html>a router's login page</html>").call("GET", "/v1/alerts")
    assert caught.value.exit_code == UNREACHABLE


def test_no_connection_is_unreachable():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = ServiceClient("http://127.0.0.1:1", transport=httpx.MockTransport(refuse))
    with pytest.raises(ServiceError) as caught:
        client.call("GET", "/v1/alerts")
    assert caught.value.exit_code == UNREACHABLE and "127.0.0.1:1" in caught.value.message


@pytest.mark.parametrize("url", ["ftp://host", "127.0.0.1:8080", "http://"])
def test_a_url_that_is_not_http_is_refused_before_connecting(url):
    with pytest.raises(ValueError, match="--url"):
        ServiceClient(url)


def test_the_default_url_is_the_environment_else_the_local_default_port(monkeypatch):
    monkeypatch.delenv("TOCSIN_URL", raising=False)
    assert default_url() == "http://127.0.0.1:8080"
    monkeypatch.setenv("TOCSIN_URL", "http://tocsin.internal:9000")
    assert default_url() == "http://tocsin.internal:9000"


def test_an_id_stays_one_path_segment():
    assert path_id("a/../../v1/rules?x=1") == "a%2F..%2F..%2Fv1%2Frules%3Fx%3D1"
