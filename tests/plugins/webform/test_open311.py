"""Open311 GeoReport v2 under /open311/v2/, checked against the published spec
(http://wiki.open311.org/GeoReport_v2): its methods, parameters and the element / key names and
order of its example responses, in JSON and XML; errors in the spec's ``errors/error`` shape."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from callcenter.db.models import Case
from callcenter.db.session import session_scope
from tests.kernel.conftest import Login
from tests.plugins.webform.conftest import API_KEY

# The spec's example responses, as element names in their order.
SERVICE_KEYS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
POST_KEYS = ["service_request_id", "service_notice", "account_id"]
REQUEST_KEYS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
]  # fmt: skip

# The spec's example POST (form-encoded), with our service code and a Beijing location.
SPEC_POST = {
    "api_key": API_KEY,
    "service_code": "0601001",
    "lat": "39.915",
    "long": "116.404",
    "address_string": "东城区东华门街道多福巷 3 号",
    "email": "smit222@sfgov.edu",
    "device_id": "tt222111",
    "account_id": "123456",
    "first_name": "john",
    "last_name": "smith",
    "phone": "111111111",
    "description": "多福巷 3 号楼下餐馆油烟扰民，晚上十点后仍在营业",
    "media_url": "http://example.org/photo.jpg",
}


def xml(r: object) -> ET.Element:
    content = r.content  # type: ignore[attr-defined]
    assert content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(content)


def test_service_list_json_and_xml(client: TestClient) -> None:
    r = client.get("/open311/v2/services.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    services = r.json()
    assert [s["service_code"] for s in services] == ["0601001", "0601002", "1101001"]
    assert list(services[0]) == SERVICE_KEYS
    assert services[0]["metadata"] is False and services[0]["type"] == "realtime"
    assert services[0]["service_name"] == "餐饮油烟" and services[0]["group"] == "市容环境"
    assert services[0]["keywords"] == "油烟, 餐馆"
    r = client.get("/open311/v2/services.xml")
    assert r.headers["content-type"].startswith("text/xml")
    root = xml(r)
    assert root.tag == "services" and [e.tag for e in root] == ["service"] * 3
    assert [e.tag for e in root[0]] == SERVICE_KEYS
    assert root[0].findtext("metadata") == "false" and root[0].findtext("group") == "市容环境"


def test_service_definition_and_unknown_code(client: TestClient) -> None:
    assert client.get("/open311/v2/services/0601001.json").json() == {
        "service_code": "0601001",
        "attributes": [],
    }
    root = xml(client.get("/open311/v2/services/0601001.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "0601001"
    r = client.get("/open311/v2/services/9999999.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404 and "9999999" in r.json()[0]["description"]
    root = xml(client.get("/open311/v2/services/9999999.xml"))
    assert root.tag == "errors" and root[0].tag == "error" and root[0].findtext("code") == "404"
    assert client.get("/open311/v2/services.csv").status_code == 404


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_request_then_get_it(client: TestClient, auth: Login, fmt: str) -> None:
    r = client.post(f"/open311/v2/requests.{fmt}", data=SPEC_POST)
    assert r.status_code == 201, r.text
    if fmt == "json":
        body = r.json()
        assert len(body) == 1 and list(body[0]) == POST_KEYS
        number = body[0]["service_request_id"]
        assert body[0]["account_id"] == "123456" and "lookup code" in body[0]["service_notice"]
    else:
        root = xml(r)
        assert root.tag == "service_requests" and [e.tag for e in root[0]] == POST_KEYS
        number = root[0].findtext("service_request_id")
    case = client.get(f"/api/cases/{number}", headers=auth("agent1")).json()
    assert case["channel"] == "open311" and case["matter_code"] == "0601001"
    assert case["caller_name"] == "smith john" and case["caller_phone"] == "111111111"
    # GET a request: a list of one with the spec's fields
    one = client.get(f"/open311/v2/requests/{number}.json").json()
    assert len(one) == 1 and list(one[0]) == REQUEST_KEYS
    req = one[0]
    assert req["status"] == "open" and req["service_name"] == "餐饮油烟"
    assert req["lat"] == 39.915 and req["long"] == 116.404 and req["media_url"] == SPEC_POST["media_url"]
    assert req["requested_datetime"].endswith("+08:00")
    root = xml(client.get(f"/open311/v2/requests/{number}.xml"))
    assert root.tag == "service_requests" and [e.tag for e in root[0]] == REQUEST_KEYS
    assert (
        root[0].findtext("status") == "open" and root[0].findtext("address_id") == ""
    )  # empty element, as <account_id/> in the spec


def test_get_requests_filters_and_closed_status(client: TestClient, auth: Login) -> None:
    first = client.post("/open311/v2/requests.json", data=SPEC_POST).json()[0]["service_request_id"]
    second = client.post(
        "/open311/v2/requests.json", data=SPEC_POST | {"service_code": "0601002", "description": "私装地锁"}
    ).json()[0]["service_request_id"]
    # a hotline case is not published
    r = client.post(
        "/api/cases",
        json={"description": "电话里说的事", "caller_phone": "13800000000"},
        headers=auth("agent1"),
    )
    phone_case = r.json()["number"]
    listed = [x["service_request_id"] for x in client.get("/open311/v2/requests.json").json()]
    assert set(listed) == {first, second} and phone_case not in listed
    got = client.get("/open311/v2/requests.json", params={"service_code": "0601002"}).json()
    assert [x["service_request_id"] for x in got] == [second]
    got = client.get("/open311/v2/requests.json", params={"service_request_id": f"{first},{second}"}).json()
    assert len(got) == 2
    assert client.get(f"/open311/v2/requests/{phone_case}.json").status_code == 404
    agent, street = auth("agent1"), auth("street1")
    for headers, action, extra in (
        (agent, "register", {}),
        (agent, "dispatch", {"unit_code": "S110101001"}),
        (street, "accept", {}),
        (street, "feedback", {"text": "已拆除地锁", "resolved": True}),
        (agent, "verify", {}),
        (agent, "close", {}),
    ):
        r = client.post(f"/api/cases/{second}/transitions", json={"action": action, **extra}, headers=headers)
        assert r.status_code == 200, r.text
    closed = client.get("/open311/v2/requests.json", params={"status": "closed"}).json()
    assert [x["service_request_id"] for x in closed] == [second]
    assert "已拆除地锁" in closed[0]["status_notes"] and closed[0]["agency_responsible"] == "东华门街道办事处"
    opened = client.get("/open311/v2/requests.xml", params={"status": "open"})
    assert [e.findtext("service_request_id") for e in xml(opened)] == [first]
    r = client.get("/open311/v2/requests.json", params={"start_date": "2010-01-01"})
    assert r.status_code == 400 and "time zone" in r.json()[0]["description"]
    r = client.get("/open311/v2/requests.json", params={"start_date": "2010-01-01T00:00:00Z"})
    assert r.status_code == 200 and len(r.json()) == 2


def test_post_errors_are_clear_and_store_nothing(client: TestClient, seeded_url: str) -> None:
    cases = [
        ({"api_key": "wrong"}, 403, "api_key"),
        ({"api_key": ""}, 403, "api_key"),
        ({"service_code": ""}, 400, "service_code is required"),
        ({"service_code": "9999999"}, 400, "not found"),
        ({"lat": "", "long": "", "address_string": ""}, 400, "location is required"),
        ({"lat": "north"}, 400, "lat must be a number"),
        ({"lat": "99"}, 400, "-90..90"),
        ({"description": "长" * 2001}, 413, "2000"),
        ({"email": "x" * 200}, 400, "email is longer"),
    ]
    for change, status, words in cases:
        r = client.post("/open311/v2/requests.json", data=SPEC_POST | change)
        assert r.status_code == status, (change, r.text)
        err = r.json()
        assert err[0]["code"] == status and words in err[0]["description"], err
    r = client.post("/open311/v2/requests.xml", data=SPEC_POST | {"api_key": "wrong"})
    root = xml(r)
    assert r.status_code == 403 and root.tag == "errors" and root[0].findtext("code") == "403"
    with session_scope(seeded_url) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_client_retry_with_idempotency_key_is_one_request(client: TestClient, seeded_url: str) -> None:
    headers = {"Idempotency-Key": "req-5b1c2d"}
    a = client.post("/open311/v2/requests.json", data=SPEC_POST, headers=headers)
    b = client.post("/open311/v2/requests.json", data=SPEC_POST, headers=headers)
    assert a.status_code == 201 and b.status_code == 200
    assert a.json()[0]["service_request_id"] == b.json()[0]["service_request_id"]
    with session_scope(seeded_url) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1


def test_flood_from_one_client_address_is_refused(client: TestClient) -> None:
    for _ in range(5):
        assert client.post("/open311/v2/requests.json", data=SPEC_POST).status_code == 201
    r = client.post("/open311/v2/requests.json", data=SPEC_POST)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert json.loads(r.content)[0]["code"] == 429
