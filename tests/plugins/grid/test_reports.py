"""Grid worker reports over HTTP: photos checked and cleaned (EXIF GPS kept as the location when
allowed, every other metadata stripped, thumbnails, files outside the database), offline re-sends
stored once, 自处置 counted apart, check tasks with before/after photos, figures per street."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from callcenter.db.models import Case, GridPhoto, GridReport
from callcenter.db.session import session_scope
from tests.kernel.conftest import Login
from tests.plugins.grid.conftest import BEIJING, big_jpeg, jpeg

TEXT = "多福巷 3 号楼东侧垃圾桶满溢，周边有堆物"


def post_report(
    client: TestClient,
    headers: dict[str, str],
    *,
    photos: list[bytes] | None = None,
    after: list[bytes] | None = None,
    **fields: object,
) -> Any:
    data = {"client_uuid": str(uuid.uuid4()), "description": TEXT, "address": "多福巷 3 号"} | {
        k: str(v) for k, v in fields.items()
    }
    files = [("photos", (f"p{i}.jpg", p, "image/jpeg")) for i, p in enumerate(photos or [jpeg()])]
    files += [("after", (f"a{i}.jpg", p, "image/jpeg")) for i, p in enumerate(after or [])]
    return client.post("/api/grid/reports", data=data, files=files, headers=headers)


def test_report_with_exif_gps_lands_in_the_workflow(
    client: TestClient, auth: Login, gridded_url: str, uploads: Path
) -> None:
    worker = auth("grid1")
    r = post_report(client, worker, photos=[jpeg(gps=BEIJING), jpeg(color="blue")], keep_gps="true")
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["grid_code"] == "G001" and out["location_source"] == "exif"
    assert abs(out["lat"] - BEIJING[0]) < 1e-4 and abs(out["lon"] - BEIJING[1]) < 1e-4
    assert len(out["photos"]) == 2
    case = client.get(f"/api/cases/{out['case_number']}", headers=auth("agent1")).json()
    assert case["channel"] == "grid" and case["channel_label"] == "网格员上报"
    assert case["community_code"] == "110101001001" and case["street_code"] == "110101001"
    assert case["status"] == "received" and case["kind"] == "report"
    # the stored photo: a JPEG with no metadata at all, a thumbnail, outside the database
    with session_scope(gridded_url) as s:
        p = s.scalars(select(GridPhoto).order_by(GridPhoto.id)).first()
        assert p is not None and p.lat is not None
        stored = Image.open(uploads / p.path)
        assert stored.format == "JPEG" and not stored.getexif() and "exif" not in stored.info
        thumb = Image.open(uploads / p.thumb_path)
        assert max(thumb.size) == 320
    got = client.get(out["photos"][0]["url"], headers=worker)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert b"TestCam" not in got.content and b"Owner Name" not in got.content
    assert client.get(out["photos"][0]["thumb_url"], headers=auth("agent1")).status_code == 200
    assert client.get(out["photos"][0]["url"], headers=auth("grid2")).status_code == 403


def test_gps_not_kept_when_the_worker_says_no_and_browser_location_wins(
    client: TestClient, auth: Login
) -> None:
    worker = auth("grid1")
    out = post_report(client, worker, photos=[jpeg(gps=BEIJING)], keep_gps="false").json()
    assert out["lat"] is None and out["location_source"] == "picked" and out["photos"][0]["lat"] is None
    out = post_report(
        client,
        worker,
        photos=[jpeg(gps=BEIJING)],
        keep_gps="true",
        lat=39.9,
        lon=116.39,
        location_source="browser",
    ).json()
    assert (out["lat"], out["lon"], out["location_source"]) == (39.9, 116.39, "browser")
    out = post_report(client, worker, community_code="110101001001", address="银闸胡同 8 号").json()
    assert out["grid_code"] == "G002"  # the picked community, resolved by the address


def test_resent_report_is_stored_once(client: TestClient, auth: Login, gridded_url: str) -> None:
    worker = auth("grid1")
    key = str(uuid.uuid4())
    a = post_report(client, worker, client_uuid=key)
    b = post_report(client, worker, client_uuid=key)
    assert a.status_code == 201 and b.status_code == 200 and b.json()["replayed"] is True
    assert a.json()["case_number"] == b.json()["case_number"]
    assert post_report(client, auth("grid2"), client_uuid=key).status_code == 409
    with session_scope(gridded_url) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1
        assert s.scalar(select(func.count()).select_from(GridPhoto)) == 1


def test_bad_uploads_and_missing_fields_are_refused(
    client: TestClient, auth: Login, gridded_url: str
) -> None:
    worker = auth("grid1")
    r = post_report(client, worker, photos=[b"%PDF-1.4 not an image"])
    assert r.status_code == 415 and "JPEG, PNG or WebP" in r.json()["detail"]
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    r = post_report(client, worker, photos=[gif.getvalue()])
    assert r.status_code == 415 and "GIF" in r.json()["detail"]
    r = post_report(client, worker, photos=[big_jpeg(8_100_000)])
    assert r.status_code == 413 and "8000000" in r.json()["detail"]
    r = client.post(
        "/api/grid/reports", data={"client_uuid": str(uuid.uuid4()), "description": TEXT}, headers=worker
    )
    assert r.status_code == 422 and "photo" in r.json()["detail"]
    r = post_report(client, worker, description="  ")
    assert r.status_code == 422
    r = post_report(client, worker, photos=[jpeg()] * 7)
    assert r.status_code == 422 and "at most 6" in r.json()["detail"]
    r = post_report(client, worker, self_handled="true", handled_text="已清理")
    assert r.status_code == 422 and "after" in r.json()["detail"]
    r = post_report(client, worker, grid_code="G002")
    assert r.status_code == 422 and "not one of yours" in r.json()["detail"]
    r = post_report(client, auth("agent1"))
    assert r.status_code == 403
    with session_scope(gridded_url) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        assert s.scalar(select(func.count()).select_from(GridReport)) == 0


def test_upload_body_limit_is_larger_only_for_the_upload_routes(client: TestClient, auth: Login) -> None:
    worker = auth("grid1")
    r = post_report(client, worker, photos=[big_jpeg(3_000_000), big_jpeg(3_000_000)])
    assert r.status_code == 201, r.text  # 6 MB body, over the 1 MB API limit
    r = client.post(
        "/api/cases",
        content=b"{" + b" " * 1_100_000 + b"}",
        headers=auth("agent1") | {"Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_self_handled_report_is_closed_and_counted_apart(client: TestClient, auth: Login) -> None:
    worker = auth("grid1")
    r = post_report(
        client, worker, self_handled="true", handled_text="已现场清理堆物", after=[jpeg(color="green")]
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["self_handled"] is True and out["status"] == "closed"
    assert sorted(p["stage"] for p in out["photos"]) == ["after", "report"]
    case = client.get(f"/api/cases/{out['case_number']}", headers=auth("agent1")).json()
    assert [e["action"] for e in case["timeline"]] == ["create", "resolve_on_spot"]
    assert case["timeline"][1]["action_label"] == "自处置" and case["feedback_text"] == "已现场清理堆物"
    post_report(client, worker)  # one more, not self-handled, not yet registered
    figs = client.get("/api/grid/figures", headers=auth("super1")).json()
    assert len(figs) == 1 and figs[0]["street_name"] == "东华门街道"
    assert figs[0]["reports"] == 2 and figs[0]["self_handled"] == 1 and figs[0]["valid_reports"] == 1


def test_check_task_before_closure(client: TestClient, auth: Login) -> None:
    agent, street = auth("agent1"), auth("street1")
    number = client.post(
        "/api/cases",
        json={
            "description": "多福巷 3 号门前路面塌陷",
            "caller_phone": "13800000000",
            "matter_code": "0601001",
            "district_code": "110101",
            "street_code": "110101001",
            "community_code": "110101001001",
            "address": "多福巷 3 号",
        },
        headers=agent,
    ).json()["number"]
    for headers, action, extra in (
        (agent, "register", {}),
        (agent, "dispatch", {"unit_code": "S110101001"}),
        (street, "accept", {}),
        (street, "feedback", {"text": "已修复", "resolved": True}),
    ):
        assert (
            client.post(
                f"/api/cases/{number}/transitions", json={"action": action, **extra}, headers=headers
            ).status_code
            == 200
        )
    r = client.post(
        "/api/grid/tasks", json={"case_number": number, "note": "请现场确认是否修复"}, headers=agent
    )
    assert r.status_code == 201, r.text
    task = r.json()
    worker = auth("grid1")  # the grid of 多福巷 3 号
    assert [t["id"] for t in client.get("/api/grid/tasks", headers=worker).json()] == [task["id"]]
    assert client.get("/api/grid/tasks", headers=auth("grid2")).json() == []
    r = client.post(
        f"/api/grid/tasks/{task['id']}/done",
        data={"result": "路面已修复平整", "confirmed": "true"},
        files=[
            ("before", ("b.jpg", jpeg(color="gray"), "image/jpeg")),
            ("after", ("a.jpg", jpeg(), "image/jpeg")),
        ],
        headers=worker,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done" and sorted(p["stage"] for p in r.json()["photos"]) == [
        "check_after",
        "check_before",
    ]
    again = client.post(
        f"/api/grid/tasks/{task['id']}/done", data={"result": "x", "confirmed": "true"}, headers=worker
    )
    assert again.status_code == 409
    detail = client.get(f"/api/cases/{number}", headers=agent).json()
    last = detail["timeline"][-1]
    assert last["action"] == "note" and last["reason"] == "网格员现场核查（属实/已解决）：路面已修复平整"
    assert (
        client.post(f"/api/cases/{number}/transitions", json={"action": "verify"}, headers=agent).status_code
        == 200
    )
    figs = client.get("/api/grid/figures", headers=agent).json()
    assert figs[0]["tasks"] == 1 and figs[0]["tasks_on_time"] == 1 and figs[0]["on_time_rate"] == 1.0
    r = client.post("/api/grid/tasks", json={"case_number": number}, headers=agent)
    assert r.status_code == 201  # still open (verified), may be checked again
