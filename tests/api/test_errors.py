"""What schemathesis found, pinned as plain tests (both backends)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tests.editor.helpers import make_editor, make_token
from tests.pages import Client

HUGE = (2**31, 2**63, 2**70)  # beyond PostgreSQL's INTEGER, SQLite's INTEGER, both


async def _auth(session: AsyncSession) -> dict[str, str]:
    await make_editor(session)
    return {"Authorization": f"Bearer {await make_token(session)}"}


async def test_ids_beyond_the_integer_range_are_404_not_500(
    client: Client, session: AsyncSession
) -> None:
    auth = await _auth(session)
    for big in HUGE:
        for method, path in (
            ("GET", f"/api/v1/issues/{big}"),
            ("GET", f"/api/v1/issues/{big}/preview"),
            ("GET", f"/api/v1/issues/{big}/delivery"),
            ("POST", f"/api/v1/issues/{big}/duplicate"),
            ("POST", f"/api/v1/issues/{big}/send"),
            ("POST", f"/api/v1/issues/{big}/withdraw"),
            ("DELETE", f"/api/v1/issues/{big}/blocks/{big}"),
            ("GET", f"/api/v1/calendar/{big}"),
            ("DELETE", f"/api/v1/calendar/{big}"),
        ):
            response = await client.request(method, path, headers=auth)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["status"] == 404


async def test_list_and_calendar_ids_beyond_the_range_are_field_errors(
    client: Client, session: AsyncSession
) -> None:
    auth = await _auth(session)
    created = await client.post(
        "/api/v1/issues",
        headers=auth,
        json={"title": "Stora tal", "issue_date": "2026-12-01", "list_ids": [2**40]},
    )
    assert created.status_code == 422
    assert "list_ids" in created.json()["fields"]
    created = await client.post(
        "/api/v1/issues", headers=auth, json={"title": "Stora tal", "issue_date": "2026-12-01"}
    )
    issue_id = created.json()["id"]
    block = await client.post(
        f"/api/v1/issues/{issue_id}/blocks",
        headers=auth,
        json={"kind": "calendar", "data": {"mode": "selected", "item_ids": [2**40]}},
    )
    assert block.status_code == 422
    assert "item_ids" in block.json()["fields"]
    assert (await client.get(f"/api/v1/issues/{issue_id}", headers=auth)).json()["blocks"] == []


async def test_options_lists_every_method_of_a_path(client: Client) -> None:
    # Litestar 2 listed only the first handler's methods (litestar-org/litestar#4169).
    for path, allow in (
        ("/api/v1/issues", "GET, OPTIONS, POST"),
        ("/api/v1/issues/1", "DELETE, GET, OPTIONS, PUT"),
        ("/api/v1/issues/1/blocks/1", "DELETE, OPTIONS, PATCH"),
        ("/api/v1/calendar/1", "DELETE, GET, OPTIONS, PUT"),
        ("/api/v1/media", "GET, OPTIONS, POST"),
        ("/api/v1/issues/1/preview", "GET, OPTIONS"),  # one handler: Litestar's own answer
    ):
        response = await client.options(path)
        assert response.status_code == 204, path
        assert response.headers["allow"] == allow, path


async def test_framework_errors_are_swedish_with_the_technical_detail(
    client: Client, session: AsyncSession
) -> None:
    auth = await _auth(session)
    malformed = await client.post(
        "/api/v1/issues", headers={**auth, "Content-Type": "application/json"}, content=b"{"
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "Förfrågan kunde inte tolkas."
    assert malformed.json()["detail"]["message"]  # e.g. "Input data was truncated"
    mistyped = await client.post(
        "/api/v1/issues", headers=auth, json={"title": 5, "issue_date": "2026-12-01"}
    )
    assert mistyped.status_code == 400
    assert mistyped.json()["detail"][0]["key"] == "title"
    wrong_method = await client.request("TRACE", "/api/v1/issues", headers=auth)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "Den metoden stöds inte på den här adressen."


async def test_control_characters_are_field_errors_not_500(
    client: Client, session: AsyncSession
) -> None:
    # PostgreSQL refuses NUL in text; SQLite stored it and the mail broke later.
    auth = await _auth(session)
    nul = "\x00"
    bad_issues = (
        ({"title": f"a{nul}b"}, "title"),
        ({"title": "Ok", "preheader": "x\x01"}, "preheader"),
        ({"title": "Ok", "subject": "Rad\nBcc: x@example.org"}, "subject"),
        ({"title": "Ok", "roles": [f"x{nul}"]}, "organisations"),
    )
    for fields, field in bad_issues:
        body = {"issue_date": "2026-12-01", **fields}
        response = await client.post("/api/v1/issues", headers=auth, json=body)
        assert response.status_code == 422, (fields, response.text)
        assert field in response.json()["fields"], fields
    bad_item = {"title": "Träff", "start_date": "2026-12-01", "all_day": True}
    for key in ("title", "place", "organiser", "description", "link"):
        response = await client.post(
            "/api/v1/calendar", headers=auth, json={**bad_item, key: f"x{nul}y"}
        )
        assert response.status_code == 422, (key, response.text)
        assert key in response.json()["fields"]
    multi_line = {**bad_item, "description": "Rad ett\r\nRad två\tmed tabb"}
    assert (await client.post("/api/v1/calendar", headers=auth, json=multi_line)).is_success
    issue = await client.post(
        "/api/v1/issues", headers=auth, json={"title": "Ok", "issue_date": "2026-12-01"}
    )
    blocks = f"/api/v1/issues/{issue.json()['id']}/blocks"
    for data, kind, field in (
        ({"text": f"a{nul}"}, "heading", "text"),
        ({"body": f"a{nul}"}, "notice", "body"),
        ({"heading": "h", "link": {"url": f"https://example.org/{nul}"}}, "article", "link.url"),
        ({"heading": "h", "image": {"src": f"https://example.org/{nul}.png", "alt": "x"}},
         "article", "image.src"),
    ):  # fmt: skip
        response = await client.post(blocks, headers=auth, json={"kind": kind, "data": data})
        assert response.status_code == 422, (data, response.text)
        assert field in response.json()["fields"], data
    notice = {"kind": "notice", "data": {"body": "Rad ett\n\nRad två"}}
    assert (await client.post(blocks, headers=auth, json=notice)).status_code == 201


async def test_deeply_nested_json_is_400_with_the_api_error_shape(
    client: Client, session: AsyncSession
) -> None:
    # Deep enough to exhaust the JSON decoder's recursion limit, small enough to stay
    # under INNAN_MAX_BODY_BYTES (a larger body is answered 413 before it is parsed).
    auth = await _auth(session) | {"Content-Type": "application/json"}
    created = await client.post(
        "/api/v1/issues", headers=auth, json={"title": "Djupt", "issue_date": "2026-12-01"}
    )
    issue_id = created.json()["id"]
    arrays = "[" * 50_000 + "]" * 10
    objects = '{"a":' * 12_000
    for method, path, body in (
        ("POST", "/api/v1/issues", arrays),
        ("PUT", f"/api/v1/issues/{issue_id}", objects),
        ("POST", f"/api/v1/issues/{issue_id}/blocks", '{"kind":"heading","data":' + arrays),
        ("POST", "/api/v1/calendar", objects),
    ):
        response = await client.request(method, path, headers=auth, content=body)
        assert response.status_code == 400, (method, path, response.text)
        answer = response.json()
        assert answer["status"] == 400
        assert answer["error"] == "Förfrågan kunde inte tolkas."
    assert (await client.get(f"/api/v1/issues/{issue_id}", headers=auth)).json()["title"] == "Djupt"
