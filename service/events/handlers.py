"""Event registration over HTTP: the public form, the confirmation link's page and the
personal link's pages; the editors' pages under ``/redaktion/evenemang`` and the JSON
API under ``/api/v1/events``.

Handlers only translate HTTP: every rule is in :mod:`service.events.service`.

CSRF: the registration form and every form behind the personal link carry a CSRF
token. The confirmation POST (``/evenemang/anmalan/bekrafta/…``) is excluded, as
subscribers' ``/bekrafta/…`` is: its secret single-use token in the URL is the CSRF
defence, and a confirmation must not fail in a browser that drops cookies. The GET of
that link shows a button and changes nothing (mail scanners follow links).

The form's rate-limit and 422 answers are pages of their own, not errors that roll the
request's session back: the rate counters must be committed whatever the answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service import api
from service.calendar import service as calendar_service
from service.core import dates as fmt
from service.core.dates import STOCKHOLM
from service.editor.guards import Actor, EditorApi, EditorPages
from service.errors import Conflict, Gone, NotFound, RateLimited, ValidationFailed
from service.events import mails, service
from service.events.forms import (
    MAX_QUESTIONS,
    OPTIONAL_FIELDS,
    Question,
    RegistrationForm,
    RegistrationSettings,
)
from service.events.messages import MESSAGES
from service.events.models import Event
from service.events.schemas import CheckInIn, EventOut, EventSettingsIn, RegistrationOut
from service.events.service import FIELD_NAMES, STATUS_NAMES
from service.settings import Settings
from service.web import PRIVATE, Contribution, client_ip, discard_attempt, settings_of

Db = NamedDependency[AsyncSession]
HONEYPOT = "hemsida"
FORM_PAGE = "pages/events/form.html"
MANAGE_PAGE = "pages/events/manage.html"
LINK_PROBLEM = "pages/events/link_problem.html"


def _link_problem(exc: NotFound | Gone | Conflict) -> Template:
    return Template(
        template_name=LINK_PROBLEM,
        context={"fmt": fmt, "status": exc.status_code, "message": exc.message},
        status_code=exc.status_code,
    )


async def _read_form(
    request: Request[Any, Any, Any], questions: list[dict[str, Any]]
) -> RegistrationForm:
    data = await request.form()
    answers: dict[str, Any] = {}
    for q in questions:
        name = f"svar-{q['key']}"
        if q["kind"] == "many":
            answers[q["key"]] = [str(v) for v in data.getall(name, [])]
        else:
            values = [str(v) for v in data.getall(name, [])]
            answers[q["key"]] = values if len(values) > 1 else (values[0] if values else "")
    return RegistrationForm(
        email=str(data.get("email") or ""),
        name=str(data.get("name") or ""),
        organisation=str(data.get("organisation") or ""),
        role=str(data.get("role") or ""),
        phone=str(data.get("phone") or ""),
        needs=str(data.get("needs") or ""),
        answers=answers,
        consent=data.get("consent") == "1",
        consent_text_id=str(data.get("consent_text_id") or ""),
        newsletter=data.get("newsletter") == "1",
        honeypot=str(data.get(HONEYPOT) or ""),
    )


async def _public_form(db: AsyncSession, item_id: int) -> service.PublicForm:
    event = await service.event_for_item(db, item_id)
    if event is None:
        raise NotFound(MESSAGES["no_event"])
    return await service.public_form(db, event.id)


def _form_page(
    about: service.PublicForm,
    form: RegistrationForm | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    return Template(
        template_name=FORM_PAGE,
        context={
            "fmt": fmt,
            "about": about,
            "item": about.item,
            "state": about.availability,
            "form": form or RegistrationForm(),
            "errors": errors or {},
            "field_names": FIELD_NAMES,
            "action": f"/kalender/{about.item.id}/anmalan",
        },
        status_code=status,
    )


def _closed_page(about: service.PublicForm, reason: str, status: int = 200) -> Template:
    return Template(
        template_name="pages/events/closed.html",
        context={"fmt": fmt, "item": about.item, "reason": reason},
        status_code=status,
    )


@get("/kalender/{item_id:int}/anmalan", include_in_schema=False)
async def registration_page(db: Db, item_id: FromPath[int]) -> Template:
    about = await _public_form(db, item_id)
    if not about.availability.open:
        return _closed_page(about, about.availability.reason)
    return _form_page(about)


@post("/kalender/{item_id:int}/anmalan", include_in_schema=False, status_code=200)
async def registration_submit(
    request: Request[Any, Any, Any], db: Db, item_id: FromPath[int]
) -> Template:
    about = await _public_form(db, item_id)
    form = await _read_form(request, about.questions)
    try:
        await service.register(
            db, settings_of(request), about.event.id, form, client_ip=client_ip(request)
        )
    except RateLimited as exc:
        return Template(
            template_name="pages/events/rate_limited.html",
            context={"fmt": fmt, "message": exc.message},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except ValidationFailed as exc:
        if "event" in exc.fields:
            return _closed_page(about, exc.fields["event"], 409)
        return _form_page(about, form, exc.fields, 422)
    return Template(
        template_name="pages/events/registered.html",
        context={"fmt": fmt, "item": about.item, "days": settings_of(request).unconfirmed_days},
    )


# ------------------------------------------------------------------ confirmation


@get("/evenemang/anmalan/bekrafta/{token:str}", include_in_schema=False, response_headers=PRIVATE)
async def confirm_page(db: Db, token: FromPath[str]) -> Template:
    """Shows a button; never changes anything (mail scanners follow links)."""
    try:
        about = await service.pending(db, token)
    except (NotFound, Gone) as exc:
        return _link_problem(exc)
    return Template(
        template_name="pages/events/confirm.html",
        context={"fmt": fmt, "token": token, "item": about.item, "status": about.status},
    )


@post(
    "/evenemang/anmalan/bekrafta/{token:str}",
    include_in_schema=False,
    response_headers=PRIVATE,
    status_code=200,
)
async def confirm_submit(request: Request[Any, Any, Any], db: Db, token: FromPath[str]) -> Template:
    try:
        outcome = await service.confirm(db, settings_of(request), token)
    except (NotFound, Gone, Conflict) as exc:
        return _link_problem(exc)
    return Template(
        template_name="pages/events/confirmed.html",
        context={"fmt": fmt, "outcome": outcome, "item": outcome.item},
    )


# ------------------------------------------------------------------ personal link


def _manage_context(
    outcome: service.Outcome,
    signed: str,
    *,
    errors: dict[str, str] | None = None,
    form: RegistrationForm | None = None,
    notice: str = "",
) -> dict[str, Any]:
    r = outcome.registration
    if form is None:
        form = RegistrationForm(
            email=r.email, name=r.name, organisation=r.organisation, role=r.role,
            phone=r.phone, needs=r.needs, answers=dict(r.answers),
        )  # fmt: skip
    return {
        "fmt": fmt,
        "outcome": outcome,
        "item": outcome.item,
        "event": outcome.event,
        "registration": r,
        "signed": signed,
        "base": f"/evenemang/anmalan/{signed}",
        "form": form,
        "errors": errors or {},
        "notice": notice,
        "status_name": STATUS_NAMES.get(outcome.status, outcome.status),
        "fields": [
            f for f in ("organisation", "role", "phone", "needs") if f in outcome.event.fields
        ],
        "questions": list(outcome.event.questions),
        "field_names": FIELD_NAMES,
    }


NOTICES = {
    "andrat": "Dina uppgifter är sparade.",
    "avbokad": "Din anmälan är avbokad. Du får en bekräftelse med e-post.",
    "ja": "Du har tackat ja. Platsen är din och du får en bekräftelse med e-post.",
}


@get("/evenemang/anmalan/{signed:str}", include_in_schema=False, response_headers=PRIVATE)
async def manage_page(
    request: Request[Any, Any, Any], db: Db, signed: FromPath[str], klart: FromQuery[str] = ""
) -> Template:
    try:
        outcome = await service.view(db, settings_of(request), signed)
    except (NotFound, Gone) as exc:
        return _link_problem(exc)
    return Template(
        template_name=MANAGE_PAGE,
        context=_manage_context(outcome, signed, notice=NOTICES.get(klart, "")),
    )


def _done(signed: str, key: str) -> Redirect:
    return Redirect(f"/evenemang/anmalan/{signed}?klart={key}", status_code=303)


@post("/evenemang/anmalan/{signed:str}/andra", include_in_schema=False, response_headers=PRIVATE)
async def manage_change(
    request: Request[Any, Any, Any], db: Db, signed: FromPath[str]
) -> Response[Any]:
    settings = settings_of(request)
    try:
        outcome = await service.view(db, settings, signed)
        form = await _read_form(request, list(outcome.event.questions))
        try:
            await service.change_own(db, settings, signed, form)
        except ValidationFailed as exc:
            context = _manage_context(outcome, signed, errors=exc.fields, form=form)
            return Template(template_name=MANAGE_PAGE, context=context, status_code=422)
    except (NotFound, Gone, Conflict) as exc:
        return _link_problem(exc)
    return _done(signed, "andrat")


@get("/evenemang/anmalan/{signed:str}/avboka", include_in_schema=False, response_headers=PRIVATE)
async def cancel_page(request: Request[Any, Any, Any], db: Db, signed: FromPath[str]) -> Template:
    """The confirm step: a GET only asks."""
    try:
        outcome = await service.view(db, settings_of(request), signed)
    except (NotFound, Gone) as exc:
        return _link_problem(exc)
    return Template(
        template_name="pages/events/cancel.html",
        context={
            "fmt": fmt,
            "item": outcome.item,
            "outcome": outcome,
            "base": f"/evenemang/anmalan/{signed}",
        },
    )


@post("/evenemang/anmalan/{signed:str}/avboka", include_in_schema=False, response_headers=PRIVATE)
async def cancel_submit(
    request: Request[Any, Any, Any], db: Db, signed: FromPath[str]
) -> Response[Any]:
    try:
        await service.cancel_own(db, settings_of(request), signed)
    except (NotFound, Gone, Conflict) as exc:
        return _link_problem(exc)
    return _done(signed, "avbokad")


@post("/evenemang/anmalan/{signed:str}/tacka-ja", include_in_schema=False, response_headers=PRIVATE)
async def accept_submit(
    request: Request[Any, Any, Any], db: Db, signed: FromPath[str]
) -> Response[Any]:
    try:
        await service.accept_offer(db, settings_of(request), signed)
    except (NotFound, Gone, Conflict) as exc:
        return _link_problem(exc)
    return _done(signed, "ja")


PUBLIC_ROUTES = [
    registration_page,
    registration_submit,
    confirm_page,
    confirm_submit,
    manage_page,
    manage_change,
    cancel_page,
    cancel_submit,
    accept_submit,
]


# ------------------------------------------------------------------ editors


def _local_input(moment: datetime | None) -> str:
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _settings_values(event: Event | None, consent: str) -> dict[str, Any]:
    """The configuration form's values of ``event`` (defaults for a new one)."""
    if event is None:
        new = RegistrationSettings()
        return {
            "capacity": "", "opens_at": "", "closes_at": "", "waitlist": new.waitlist,
            "fields": [], "consent_text": consent, "retention_days": str(new.retention_days),
            "reminder_days": str(new.reminder_days), "offer_hours": "", "questions": [],
        }  # fmt: skip
    return {
        "capacity": "" if event.capacity is None else str(event.capacity),
        "opens_at": _local_input(event.opens_at),
        "closes_at": _local_input(event.closes_at),
        "waitlist": event.waitlist,
        "fields": list(event.fields),
        "consent_text": consent,
        "retention_days": str(event.retention_days),
        "reminder_days": str(event.reminder_days),
        "offer_hours": "" if event.offer_hours is None else str(event.offer_hours),
        "questions": [
            {"label": q["label"], "kind": q["kind"], "options": "\n".join(q["options"]),
             "required": q["required"], "key": q["key"]}
            for q in event.questions
        ],
    }  # fmt: skip


def _whole_or_none(raw: str, key: str, errors: dict[str, str]) -> int | None:
    text = raw.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        errors[key] = "Ange ett heltal."
        return None
    return int(text)


def _moment(raw: str, key: str, errors: dict[str, str]) -> datetime | None:
    text = raw.strip()
    if not text:
        return None
    try:
        local = datetime.strptime(text, "%Y-%m-%dT%H:%M")
    except ValueError:
        errors[key] = "Ange datum och tid som ÅÅÅÅ-MM-DD TT:MM."
        return None
    return local.replace(tzinfo=STOCKHOLM).astimezone(UTC)


async def _settings_form(
    request: Request[Any, Any, Any],
) -> tuple[dict[str, Any], RegistrationSettings]:
    """The configuration form as posted (to show again) and as settings; ValidationFailed
    for what cannot even be read (numbers, times)."""
    data = await request.form()
    text = {key: str(data.get(key) or "") for key in (
        "capacity", "opens_at", "closes_at", "consent_text", "retention_days", "reminder_days",
        "offer_hours",
    )}  # fmt: skip
    questions: list[dict[str, Any]] = []
    for n in range(1, MAX_QUESTIONS + 1):
        label = str(data.get(f"q{n}_label") or "")
        options = str(data.get(f"q{n}_options") or "")
        if not label.strip() and not options.strip():
            continue
        questions.append({
            "label": label, "kind": str(data.get(f"q{n}_kind") or "text"), "options": options,
            "required": data.get(f"q{n}_required") == "1", "key": str(data.get(f"q{n}_key") or ""),
        })  # fmt: skip
    values: dict[str, Any] = {
        **text,
        "waitlist": data.get("waitlist") == "1",
        "fields": [str(v) for v in data.getall("fields", [])],
        "questions": questions,
    }
    errors: dict[str, str] = {}
    retention = _whole_or_none(text["retention_days"], "retention_days", errors)
    reminder = _whole_or_none(text["reminder_days"], "reminder_days", errors)
    cfg = RegistrationSettings(
        capacity=_whole_or_none(text["capacity"], "capacity", errors),
        opens_at=_moment(text["opens_at"], "opens_at", errors),
        closes_at=_moment(text["closes_at"], "closes_at", errors),
        waitlist=values["waitlist"],
        fields=values["fields"],
        questions=[
            Question(label=q["label"], kind=q["kind"], required=q["required"], key=q["key"],
                     options=[line for line in q["options"].splitlines() if line.strip()])
            for q in questions
        ],
        consent_text=text["consent_text"],
        retention_days=30 if retention is None else retention,
        reminder_days=0 if reminder is None else reminder,
        offer_hours=_whole_or_none(text["offer_hours"], "offer_hours", errors),
    )  # fmt: skip
    if errors:
        raise ValidationFailed(MESSAGES["settings_invalid"], fields=errors)
    return values, cfg


def _editor_page(name: str, status: int = 200, **context: Any) -> Template:
    return Template(
        template_name=f"pages/events/editor/{name}.html",
        context={"fmt": fmt, "status_names": STATUS_NAMES, "field_names": FIELD_NAMES, **context},
        status_code=status,
    )


async def _title(db: AsyncSession, event: Event) -> str:
    item = await mails.item_of(db, event)
    return item.title if item else f"Evenemang {event.id}"


class EventPages(EditorPages):
    """The editors' pages for registration: settings, the list, check-in, exports, mail."""

    path = "/redaktion/evenemang"

    @get()
    async def page_list(self, db: Db) -> Template:
        rows = [
            (event, item, await service.counts(db, event.id))
            for event, item in await service.list_events(db)
        ]
        return _editor_page("list", rows=rows)

    async def _configure_page(
        self, db: Db, item_id: int, values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None, message: str = "", status: int = 200,
    ) -> Template:  # fmt: skip
        item = await calendar_service.get_item(db, item_id)
        event = await service.event_for_item(db, item_id)
        if values is None:
            consent = (await service.current_consent_text(db, event.id)).body if event else ""
            values = _settings_values(event, consent)
        return _editor_page(
            "configure", status, item=item, event=event, v=values, errors=errors or {},
            message=message, optional_fields=OPTIONAL_FIELDS, max_questions=MAX_QUESTIONS,
        )  # fmt: skip

    @get("/kalender/{item_id:int}")
    async def page_configure(self, db: Db, item_id: FromPath[int]) -> Template:
        return await self._configure_page(db, item_id)

    @post("/kalender/{item_id:int}", status_code=303)
    async def page_configure_save(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, item_id: FromPath[int]
    ) -> Response[Any]:
        await calendar_service.get_item(db, item_id)  # 404 before reading the form
        values: dict[str, Any] = {}
        try:
            values, cfg = await _settings_form(request)
            event = await service.configure(db, settings_of(request), item_id, cfg, actor=actor)
        except ValidationFailed as exc:
            await discard_attempt(db)
            return await self._configure_page(
                db, item_id, values or None, exc.fields, exc.message, 422
            )
        return Redirect(f"/redaktion/evenemang/{event.id}", status_code=303)

    @get("/{event_id:int}")
    async def page_event(self, db: Db, event_id: FromPath[int]) -> Template:
        event = await service.get_event(db, event_id)
        return _editor_page(
            "event",
            event=event,
            item=await mails.item_of(db, event),
            counts=await service.counts(db, event_id),
            registrations=await service.registrations(db, event_id),
        )

    @get("/{event_id:int}/incheckning")
    async def page_check_in(self, db: Db, event_id: FromPath[int]) -> Template:
        event = await service.get_event(db, event_id)
        people = await service.registrations(db, event_id, statuses=("confirmed",))
        people.sort(key=lambda r: r.name.casefold())
        return _editor_page(
            "check_in", event=event, title=await _title(db, event), people=people,
            counts=await service.counts(db, event_id),
        )  # fmt: skip

    @get("/{event_id:int}/deltagare.csv")
    async def page_csv(self, db: Db, event_id: FromPath[int]) -> Response[bytes]:
        return _csv(await service.attendees_csv(db, event_id), event_id)

    @get("/{event_id:int}/namnlista")
    async def page_names(self, db: Db, event_id: FromPath[int]) -> Template:
        return _editor_page("names", event_id=event_id, names=await service.name_list(db, event_id))

    async def _info_page(
        self, db: Db, event_id: int, v: dict[str, str] | None = None,
        errors: dict[str, str] | None = None, message: str = "", notice: str = "",
        status: int = 200,
    ) -> Template:  # fmt: skip
        event = await service.get_event(db, event_id)
        ledger = [
            (n, await service.info_ledger(db, mails.info_reference(event.id, n)))
            for n in range(event.info_mails or 0, 0, -1)
        ]
        return _editor_page(
            "info", status, event=event, title=await _title(db, event), ledger=ledger,
            v=v or {}, errors=errors or {}, message=message, notice=notice,
        )  # fmt: skip

    @get("/{event_id:int}/utskick")
    async def page_info(
        self, db: Db, event_id: FromPath[int], skickat: FromQuery[str] = ""
    ) -> Template:
        notice = f"Brevet är köat till {skickat} mottagare." if skickat.isdigit() else ""
        return await self._info_page(db, event_id, notice=notice)

    @post("/{event_id:int}/utskick", status_code=303)
    async def page_info_send(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, event_id: FromPath[int]
    ) -> Response[Any]:
        data = await request.form()
        v = {key: str(data.get(key) or "") for key in ("subject", "body", "include_waitlisted")}
        try:
            sent = await service.send_info(
                db, settings_of(request), event_id, v["subject"], v["body"], actor=actor,
                include_waitlisted=v["include_waitlisted"] == "1",
            )  # fmt: skip
        except ValidationFailed as exc:
            await discard_attempt(db)
            return await self._info_page(db, event_id, v, exc.fields, exc.message, status=422)
        return Redirect(
            f"/redaktion/evenemang/{event_id}/utskick?skickat={sent.queued}", status_code=303
        )

    @get("/{event_id:int}/stall-in")
    async def page_cancel_event(self, db: Db, event_id: FromPath[int]) -> Template:
        event = await service.get_event(db, event_id)
        return _editor_page(
            "cancel_event", event=event, title=await _title(db, event),
            counts=await service.counts(db, event_id),
        )  # fmt: skip

    @post("/{event_id:int}/stall-in", status_code=303)
    async def page_cancel_event_submit(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, event_id: FromPath[int]
    ) -> Redirect:
        await service.cancel_event(db, settings_of(request), event_id, actor=actor)
        return Redirect(f"/redaktion/evenemang/{event_id}", status_code=303)

    @post("/anmalan/{registration_id:int}/flytta-upp", status_code=303)
    async def page_promote(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, registration_id: FromPath[int]
    ) -> Redirect:
        r = await service.promote(db, settings_of(request), registration_id, actor=actor)
        return Redirect(f"/redaktion/evenemang/{r.event_id}#anmalan-{r.id}", status_code=303)

    @get("/anmalan/{registration_id:int}/avboka")
    async def page_cancel_confirm(self, db: Db, registration_id: FromPath[int]) -> Template:
        """Asks first: the person is mailed, and the seat goes to the next in line."""
        registration = await service.get_registration(db, registration_id)
        event = await service.get_event(db, registration.event_id)
        return _editor_page(
            "cancel_registration",
            registration=registration,
            event=event,
            title=await _title(db, event),
        )

    @post("/anmalan/{registration_id:int}/avboka", status_code=303)
    async def page_cancel(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, registration_id: FromPath[int]
    ) -> Redirect:
        r = await service.cancel_registration(
            db, settings_of(request), registration_id, actor=actor
        )
        return Redirect(f"/redaktion/evenemang/{r.event_id}#anmalan-{r.id}", status_code=303)

    @post("/anmalan/{registration_id:int}/incheckning", status_code=303)
    async def page_mark(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, registration_id: FromPath[int]
    ) -> Redirect:
        data = await request.form()
        r = await service.mark_attended(
            db, registration_id, data.get("attended") == "1", actor=actor
        )
        return Redirect(
            f"/redaktion/evenemang/{r.event_id}/incheckning#person-{r.id}", status_code=303
        )


def _csv(body: str, event_id: int) -> Response[bytes]:
    return Response(
        content=("\ufeff" + body).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="deltagare-{event_id}.csv"',
            "Cache-Control": "no-store",
        },
    )


class EventApi(EditorApi):
    """Event registration over JSON."""

    path = "/api/v1/events"
    tags = ("Evenemang",)

    @get(responses=api.errors())
    async def api_list(self, db: Db) -> list[EventOut]:
        return [
            EventOut.of(event, item.title if item else "", await service.counts(db, event.id))
            for event, item in await service.list_events(db)
        ]

    @get("/{event_id:int}", responses=api.errors(400, 404))
    async def api_get(self, db: Db, event_id: FromPath[int]) -> EventOut:
        event = await service.get_event(db, event_id)
        return EventOut.of(event, await _title(db, event), await service.counts(db, event_id))

    @put("/item/{item_id:int}", responses=api.errors(400, 404, 413, 422))
    async def api_configure(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        actor: Actor,
        item_id: FromPath[int],
        data: JSONBody[EventSettingsIn],
    ) -> EventOut:
        """Turn on registration for a calendar item, or change its settings."""
        event = await service.configure(
            db, settings_of(request), item_id, data.settings(), actor=actor
        )
        return EventOut.of(event, await _title(db, event), await service.counts(db, event.id))

    @get("/{event_id:int}/registrations", responses=api.errors(400, 404))
    async def api_registrations(self, db: Db, event_id: FromPath[int]) -> list[RegistrationOut]:
        await service.get_event(db, event_id)
        return [RegistrationOut.of(r) for r in await service.registrations(db, event_id)]

    @get(
        "/{event_id:int}/attendees.csv",
        responses=api.errors(400, 404),
        media_type="text/csv; charset=utf-8",
    )
    async def api_csv(self, db: Db, event_id: FromPath[int]) -> Response[bytes]:
        """The attendee list as CSV (formula-safe), as an attachment."""
        return _csv(await service.attendees_csv(db, event_id), event_id)

    @post(
        "/registrations/{registration_id:int}/check-in",
        status_code=200,
        responses=api.errors(400, 404, 409),
    )
    async def api_check_in(
        self, db: Db, actor: Actor, registration_id: FromPath[int], data: JSONBody[CheckInIn]
    ) -> RegistrationOut:
        r = await service.mark_attended(db, registration_id, data.attended, actor=actor)
        return RegistrationOut.of(r)

    @post(
        "/registrations/{registration_id:int}/cancel",
        status_code=200,
        responses=api.errors(400, 404, 409),
    )
    async def api_cancel(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, registration_id: FromPath[int]
    ) -> RegistrationOut:
        r = await service.cancel_registration(
            db, settings_of(request), registration_id, actor=actor
        )
        return RegistrationOut.of(r)

    @post(
        "/registrations/{registration_id:int}/promote",
        status_code=200,
        responses=api.errors(400, 404, 409),
    )
    async def api_promote(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, registration_id: FromPath[int]
    ) -> RegistrationOut:
        r = await service.promote(db, settings_of(request), registration_id, actor=actor)
        return RegistrationOut.of(r)


def contribute(settings: Settings) -> Contribution:
    return Contribution(
        routes=[*PUBLIC_ROUTES, EventPages, EventApi],
        csrf_exclude=[r"^/evenemang/anmalan/bekrafta/[^/]+$"],
    )
