"""Calendar items over HTTP: editor pages under ``/redaktion/kalender`` and ``/api/v1/calendar``.

(The public calendar and its feeds are served by the archive domain.)
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service import api
from service.calendar import service
from service.calendar.service import ItemFields
from service.editor.auth import LOGIN_REDIRECT, actor_of, api_guard, current_editor, editor_guard
from service.errors import ValidationFailed
from service.issues.schemas import CalendarItemIn, CalendarItemOut
from service.settings import Settings
from service.web import Contribution, settings_of

Db = NamedDependency[AsyncSession]
API: dict[str, Any] = {"guards": [api_guard], "tags": ["Kalendarium"], "security": api.SECURITY}
UI: dict[str, Any] = {
    "guards": [editor_guard],
    "exception_handlers": LOGIN_REDIRECT,
    "include_in_schema": False,
}
FIELDS = (
    "title", "start_date", "start_time", "end_date", "end_time", "place", "link",
    "registration_deadline", "organiser", "description",
)  # fmt: skip


def _actor(request: Request[Any, Any, Any]) -> str:
    return actor_of(current_editor(request))


def _from_api(data: CalendarItemIn) -> ItemFields:
    return ItemFields(
        title=data.title, start_date=data.start_date, start_time=data.start_time,
        end_date=data.end_date, end_time=data.end_time, all_day=data.all_day, place=data.place,
        link=data.link, registration_deadline=data.registration_deadline,
        organiser=data.organiser, description=data.description,
    )  # fmt: skip


@get("/api/v1/calendar", **API, responses=api.errors())
async def api_list(db: Db) -> list[CalendarItemOut]:
    return [CalendarItemOut.of(i) for i in await service.list_items(db)]


@post("/api/v1/calendar", **API, responses=api.errors(400, 413, 422))
async def api_create(
    request: Request[Any, Any, Any], db: Db, data: JSONBody[CalendarItemIn]
) -> CalendarItemOut:
    item = await service.create_item(
        db, settings_of(request), _from_api(data), actor=_actor(request)
    )
    return CalendarItemOut.of(item)


@get("/api/v1/calendar/{item_id:int}", **API, responses=api.errors(400, 404))
async def api_get(db: Db, item_id: FromPath[int]) -> CalendarItemOut:
    return CalendarItemOut.of(await service.get_item(db, item_id))


@put("/api/v1/calendar/{item_id:int}", **API, responses=api.errors(400, 404, 413, 422))
async def api_update(
    request: Request[Any, Any, Any], db: Db, item_id: FromPath[int], data: JSONBody[CalendarItemIn]
) -> CalendarItemOut:
    item = await service.update_item(db, item_id, _from_api(data), actor=_actor(request))
    return CalendarItemOut.of(item)


@delete("/api/v1/calendar/{item_id:int}", **API, responses=api.errors(400, 404))
async def api_delete(request: Request[Any, Any, Any], db: Db, item_id: FromPath[int]) -> None:
    await service.delete_item(db, item_id, actor=_actor(request))


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    out = {key: str(form.get(key) or "") for key in (*FIELDS, "all_day")}
    return out


def _fields(form: dict[str, str]) -> ItemFields:
    values = {key: form.get(key, "") for key in FIELDS}
    return ItemFields(all_day=form.get("all_day") == "1", **values)


@get("/redaktion/kalender", **UI)
async def page_list(db: Db) -> Template:
    return Template(
        template_name="pages/editor/calendar.html",
        context={"items": await service.list_items(db), "stockholm": service.STOCKHOLM},
    )


def _form_page(
    item: Any,
    form: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str = "",
    status: int = 200,
) -> Template:
    return Template(
        template_name="pages/editor/calendar_form.html",
        context={"item": item, "v": form, "errors": errors or {}, "message": message},
        status_code=status,
    )


@get("/redaktion/kalender/ny", **UI)
async def page_new() -> Template:
    return _form_page(None, {})


@post("/redaktion/kalender/ny", **UI, status_code=303)
async def page_create(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    form = await _form(request)
    try:
        await service.create_item(db, settings_of(request), _fields(form), actor=_actor(request))
    except ValidationFailed as exc:
        return _form_page(None, form, exc.fields, exc.message, 422)
    return Redirect("/redaktion/kalender", status_code=303)


@get("/redaktion/kalender/{item_id:int}", **UI)
async def page_edit(db: Db, item_id: FromPath[int]) -> Template:
    item = await service.get_item(db, item_id)
    form = {key: str(getattr(item, key, "") or "") for key in FIELDS}
    form.update(service.local_parts(item))
    form["all_day"] = "1" if item.all_day else ""
    return _form_page(item, form)


@post("/redaktion/kalender/{item_id:int}", **UI, status_code=303)
async def page_update(
    request: Request[Any, Any, Any], db: Db, item_id: FromPath[int]
) -> Response[Any]:
    form = await _form(request)
    item = await service.get_item(db, item_id)
    try:
        await service.update_item(db, item_id, _fields(form), actor=_actor(request))
    except ValidationFailed as exc:
        return _form_page(item, form, exc.fields, exc.message, 422)
    return Redirect("/redaktion/kalender", status_code=303)


@post("/redaktion/kalender/{item_id:int}/ta-bort", **UI, status_code=303)
async def page_delete(request: Request[Any, Any, Any], db: Db, item_id: FromPath[int]) -> Redirect:
    await service.delete_item(db, item_id, actor=_actor(request))
    return Redirect("/redaktion/kalender", status_code=303)


def contribute(settings: Settings) -> Contribution:
    return Contribution(
        routes=[api_list, api_create, api_get, api_update, api_delete, page_list, page_new,
                page_create, page_edit, page_update, page_delete]
    )  # fmt: skip
