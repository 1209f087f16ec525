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

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import dates as fmt
from service.errors import Conflict, Gone, NotFound, RateLimited, ValidationFailed
from service.events import service
from service.events.forms import RegistrationForm
from service.events.messages import MESSAGES
from service.events.service import FIELD_NAMES, REGISTRATION_WINDOW_SECONDS, STATUS_NAMES
from service.settings import Settings
from service.web import Contribution, client_ip, settings_of

Db = NamedDependency[AsyncSession]
HONEYPOT = "hemsida"
FORM_PAGE = "pages/events/form.html"
MANAGE_PAGE = "pages/events/manage.html"
LINK_PROBLEM = "pages/events/link_problem.html"

# Pages reached through a personal link: never cached, the link never sent as a referrer.
PRIVATE = [
    ResponseHeader(name="Cache-Control", value="no-store"),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
    ResponseHeader(name="X-Robots-Tag", value="noindex"),
]


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
            headers={"Retry-After": str(REGISTRATION_WINDOW_SECONDS)},
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


def contribute(settings: Settings) -> Contribution:
    return Contribution(
        routes=[*PUBLIC_ROUTES],
        csrf_exclude=[r"^/evenemang/anmalan/bekrafta/[^/]+$"],
    )
