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
from service.calendar.schemas import CalendarItemIn, CalendarItemOut
from service.calendar.service import ItemFields
from service.core.dates import STOCKHOLM
from service.editor.guards import Actor, EditorApi, EditorPages
from service.errors import ValidationFailed
from service.settings import Settings
from service.web import Contribution, settings_of

Db = NamedDependency[AsyncSession]
FIELDS = (
    "title", "start_date", "start_time", "end_date", "end_time", "place", "link",
    "registration_deadline", "organiser", "description",
)  # fmt: skip


def _from_api(data: CalendarItemIn) -> ItemFields:
    return ItemFields(
        title=data.title, start_date=data.start_date, start_time=data.start_time,
        end_date=data.end_date, end_time=data.end_time, all_day=data.all_day, place=data.place,
        link=data.link, registration_deadline=data.registration_deadline,
        organiser=data.organiser, description=data.description,
    )  # fmt: skip


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    out = {key: str(form.get(key) or "") for key in (*FIELDS, "all_day")}
    return out


def _fields(form: dict[str, str]) -> ItemFields:
    values = {key: form.get(key, "") for key in FIELDS}
    return ItemFields(all_day=form.get("all_day") == "1", **values)


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


class CalendarApi(EditorApi):
    """Calendar items over JSON."""

    path = "/api/v1/calendar"
    tags = ("Kalendarium",)

    @get(responses=api.errors())
    async def api_list(self, db: Db) -> list[CalendarItemOut]:
        return [CalendarItemOut.of(i) for i in await service.list_items(db)]

    @post(responses=api.errors(400, 413, 422))
    async def api_create(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, data: JSONBody[CalendarItemIn]
    ) -> CalendarItemOut:
        item = await service.create_item(db, settings_of(request), _from_api(data), actor=actor)
        return CalendarItemOut.of(item)

    @get("/{item_id:int}", responses=api.errors(400, 404))
    async def api_get(self, db: Db, item_id: FromPath[int]) -> CalendarItemOut:
        return CalendarItemOut.of(await service.get_item(db, item_id))

    @put("/{item_id:int}", responses=api.errors(400, 404, 413, 422))
    async def api_update(
        self, db: Db, actor: Actor, item_id: FromPath[int], data: JSONBody[CalendarItemIn]
    ) -> CalendarItemOut:
        item = await service.update_item(db, item_id, _from_api(data), actor=actor)
        return CalendarItemOut.of(item)

    @delete("/{item_id:int}", responses=api.errors(400, 404))
    async def api_delete(self, db: Db, actor: Actor, item_id: FromPath[int]) -> None:
        await service.delete_item(db, item_id, actor=actor)


class CalendarPages(EditorPages):
    """The editor's list of calendar items and the item form."""

    path = "/redaktion/kalender"

    @get()
    async def page_list(self, db: Db) -> Template:
        return Template(
            template_name="pages/editor/calendar.html",
            context={"items": await service.list_items(db), "stockholm": STOCKHOLM},
        )

    @get("/ny")
    async def page_new(self) -> Template:
        return _form_page(None, {})

    @post("/ny", status_code=303)
    async def page_create(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor
    ) -> Response[Any]:
        form = await _form(request)
        try:
            await service.create_item(db, settings_of(request), _fields(form), actor=actor)
        except ValidationFailed as exc:
            return _form_page(None, form, exc.fields, exc.message, 422)
        return Redirect("/redaktion/kalender", status_code=303)

    @get("/{item_id:int}")
    async def page_edit(self, db: Db, item_id: FromPath[int]) -> Template:
        item = await service.get_item(db, item_id)
        form = {key: str(getattr(item, key, "") or "") for key in FIELDS}
        form.update(service.local_parts(item))
        form["all_day"] = "1" if item.all_day else ""
        return _form_page(item, form)

    @post("/{item_id:int}", status_code=303)
    async def page_update(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, item_id: FromPath[int]
    ) -> Response[Any]:
        form = await _form(request)
        item = await service.get_item(db, item_id)
        try:
            await service.update_item(db, item_id, _fields(form), actor=actor)
        except ValidationFailed as exc:
            return _form_page(item, form, exc.fields, exc.message, 422)
        return Redirect("/redaktion/kalender", status_code=303)

    @post("/{item_id:int}/ta-bort", status_code=303)
    async def page_delete(self, db: Db, actor: Actor, item_id: FromPath[int]) -> Redirect:
        await service.delete_item(db, item_id, actor=actor)
        return Redirect("/redaktion/kalender", status_code=303)


def contribute(settings: Settings) -> Contribution:
    return Contribution(routes=[CalendarApi, CalendarPages])
