"""Public pages of the subscribers domain: signup (also embeddable), double opt-in
confirmation, the preference centre, one-click unsubscribe and the privacy notice.

CSRF: the unauthenticated signup POSTs (``/prenumerera``, ``/prenumerera/inbaddning``)
are excluded from CSRF, because the embedded form is posted from another site's iframe
(no SameSite=Lax cookie) and double opt-in already protects them: a forged signup
only leads to a confirmation mail. The RFC 8058 one-click POST (``/avregistrera/…``) is
excluded because mail providers post it without cookies. The confirm POST
(``/bekrafta/…``) is excluded because its secret single-use token in the URL already is
the CSRF defence (a forger would need the token), and a confirmation must not fail in a
browser that drops cookies. Every preference-centre form (lists, details, address,
export, unsubscribe, erasure) carries a CSRF token.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import Conflict, Gone, NotFound, RateLimited, ValidationFailed
from service.settings import Settings
from service.web import PRIVATE, Contribution, client_ip, settings_of
from subscribers import links
from subscribers.confirmation import confirm, pending
from subscribers.consent_texts import current_text, text_version, text_versions
from subscribers.fields import MEMBER_ORGANISATIONS
from subscribers.lists import active_list_ids, choosable_lists, preselected, public_lists
from subscribers.messages import MESSAGES, SAVED_NOTICES
from subscribers.models import Subscriber
from subscribers.people import subscriber_from_link
from subscribers.preferences import request_address_change, set_lists, update_details
from subscribers.privacy import erase, export_data
from subscribers.signup import SignupForm, submit_signup
from subscribers.unsubscribe import unsubscribe, unsubscribe_by_token

SIGNUP_PAGE = "pages/subscribers/signup.html"
EMBED_PAGE = "pages/subscribers/embed.html"
PREFS_PAGE = "pages/subscribers/preferences.html"
LINK_PROBLEM = "pages/subscribers/link_problem.html"
HONEYPOT = "hemsida"  # the signup form's field hidden from people (SignupForm.honeypot)

Db = NamedDependency[AsyncSession]


def _link_problem(exc: NotFound | Gone | Conflict) -> Template:
    return Template(
        template_name=LINK_PROBLEM,
        context={"status": exc.status_code, "message": exc.message},
        status_code=exc.status_code,
    )


# ------------------------------------------------------------------------ signup


async def _signup_context(
    db: Db,
    form: SignupForm | None = None,
    errors: dict[str, str] | None = None,
    preselect: str = "",
) -> dict[str, Any]:
    lists = await public_lists(db)
    consent = await current_text(db, "consent")
    privacy = await current_text(db, "privacy")
    if form is None:
        form = SignupForm(list_values=[str(lst.id) for lst in preselected(lists, preselect)])
    return {
        "lists": lists,
        "consent": consent,
        "privacy": privacy,
        "form": form,
        "errors": errors or {},
        "organisations": MEMBER_ORGANISATIONS,
    }


@get("/prenumerera", include_in_schema=False)
async def signup_page(db: Db, lista: FromQuery[str] = "") -> Template:
    """``?lista=kalendarium`` (comma-separated slugs) preselects public lists."""
    context = await _signup_context(db, preselect=lista[:300])
    return Template(template_name=SIGNUP_PAGE, context=context)


@get("/prenumerera/inbaddning", include_in_schema=False)
async def embed_page(db: Db, lista: FromQuery[str] = "") -> Template:
    context = await _signup_context(db, preselect=lista[:300])
    return Template(template_name=EMBED_PAGE, context=context)


async def _signup(request: Request[Any, Any, Any], db: Db, source: str) -> Template:
    """The rate-limit and 422 answers are pages of their own (not errors that roll the
    request's session back): the rate counters must be committed whatever the answer."""
    settings = settings_of(request)
    embed = source == "embed"
    data = await request.form()
    form = SignupForm(
        email=str(data.get("email") or ""),
        name=str(data.get("name") or ""),
        organisation=str(data.get("organisation") or ""),
        role=str(data.get("role") or ""),
        list_values=[str(v) for v in data.getall("lists", [])],
        consent_text_id=str(data.get("consent_text_id") or ""),
        privacy_notice_id=str(data.get("privacy_notice_id") or ""),
        honeypot=str(data.get(HONEYPOT) or ""),
    )
    try:
        await submit_signup(db, settings, form, source=source, client_ip=client_ip(request))
    except RateLimited as exc:
        return Template(
            template_name="pages/subscribers/rate_limited.html",
            context={"embed": embed, "message": exc.message},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except ValidationFailed as exc:
        context = await _signup_context(db, form, exc.fields)
        page = EMBED_PAGE if embed else SIGNUP_PAGE
        return Template(template_name=page, context=context, status_code=422)
    return Template(
        template_name="pages/subscribers/signup_done.html",
        context={"embed": embed, "days": settings.unconfirmed_days},
    )


@post("/prenumerera", include_in_schema=False, status_code=200)
async def signup_submit(request: Request[Any, Any, Any], db: Db) -> Template:
    return await _signup(request, db, "form")


@post("/prenumerera/inbaddning", include_in_schema=False, status_code=200)
async def embed_submit(request: Request[Any, Any, Any], db: Db) -> Template:
    return await _signup(request, db, "embed")


# ------------------------------------------------------------------ confirmation


@get("/bekrafta/{token:str}", include_in_schema=False, response_headers=PRIVATE)
async def confirm_page(token: FromPath[str], db: Db) -> Template:
    """Shows a button; never changes anything (mail scanners follow links)."""
    try:
        about = await pending(db, token)
    except (NotFound, Gone) as exc:
        return _link_problem(exc)
    return Template(
        template_name="pages/subscribers/confirm.html",
        context={
            "token": token,
            "purpose": about.purpose,
            "lists": about.lists,
            "new_email": about.new_email,
        },
    )


@post("/bekrafta/{token:str}", include_in_schema=False, response_headers=PRIVATE, status_code=200)
async def confirm_submit(token: FromPath[str], request: Request[Any, Any, Any], db: Db) -> Template:
    settings = settings_of(request)
    try:
        result = await confirm(db, settings, token)
    except (NotFound, Gone, Conflict) as exc:
        return _link_problem(exc)
    return Template(
        template_name="pages/subscribers/confirmed.html",
        context={
            "purpose": result.purpose,
            "lists": result.lists,
            "email": result.subscriber.email,
            **links.links_for(settings, result.subscriber),
        },
    )


# ------------------------------------------------------------- preference centre


async def _prefs_context(
    db: Db,
    settings: Settings,
    subscriber: Subscriber,
    token: FromPath[str],
    *,
    errors: dict[str, str] | None = None,
    notice: str = "",
    values: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "token": token,
        "subscriber": subscriber,
        "lists": await choosable_lists(db, subscriber),
        "mine": active_list_ids(subscriber),
        "errors": errors or {},
        "notice": notice,
        "values": values or {},
        "organisations": MEMBER_ORGANISATIONS,
        "base": f"/installningar/{token}",
        "unsubscribe_url": links.unsubscribe_url(settings, subscriber.id, subscriber.token_version),
    }


async def _prefs_subscriber(request: Request[Any, Any, Any], db: Db, token: str) -> Subscriber:
    return await subscriber_from_link(db, settings_of(request), links.PREFS_PURPOSE, token)


@get("/installningar/{token:str}", include_in_schema=False, response_headers=PRIVATE)
async def preferences(
    token: FromPath[str], request: Request[Any, Any, Any], db: Db, sparat: FromQuery[str] = ""
) -> Template:
    try:
        subscriber = await _prefs_subscriber(request, db, token)
    except (NotFound, Gone) as exc:
        return _link_problem(exc)
    context = await _prefs_context(
        db, settings_of(request), subscriber, token, notice=SAVED_NOTICES.get(sparat, "")
    )
    return Template(template_name=PREFS_PAGE, context=context)


def _saved(token: FromPath[str], key: str) -> Redirect:
    return Redirect(path=f"/installningar/{token}?sparat={key}", status_code=303)


# The preference-centre forms, by the last path segment -> the "saved" notice they lead to.
PREFS_FORMS = {
    "listor": "listor",
    "uppgifter": "uppgifter",
    "adress": "adress",
    "avregistrera": "avregistrerad",
}


@post("/installningar/{token:str}/{form:str}", include_in_schema=False, response_headers=PRIVATE)
async def prefs_submit(
    token: FromPath[str], form: FromPath[str], request: Request[Any, Any, Any], db: Db
) -> Response[Any]:
    """Every preference-centre form (``export`` and ``radera`` have their own routes)."""
    if form not in PREFS_FORMS:
        raise NotFound(MESSAGES["no_such_form"])
    settings = settings_of(request)
    try:
        subscriber = await _prefs_subscriber(request, db, token)
    except (NotFound, Gone) as exc:
        return _link_problem(exc)
    data = await request.form()
    values = {k: str(v) for k, v in data.items() if k != "_csrf_token"}
    try:
        if form == "listor":
            await set_lists(db, settings, subscriber, [str(v) for v in data.getall("lists", [])])
        elif form == "uppgifter":
            await update_details(
                db,
                subscriber,
                name=values.get("name", ""),
                organisation=values.get("organisation", ""),
                role=values.get("role", ""),
            )
        elif form == "adress":
            await request_address_change(db, settings, subscriber, values.get("new_email", ""))
        else:
            await unsubscribe(db, settings, subscriber.id, channel="preference-centre")
    except ValidationFailed as exc:
        context = await _prefs_context(
            db, settings, subscriber, token, errors=exc.fields, values=values
        )
        return Template(template_name=PREFS_PAGE, context=context, status_code=422)
    return _saved(token, PREFS_FORMS[form])


@post(
    "/installningar/{token:str}/export",
    include_in_schema=False,
    response_headers=PRIVATE,
    status_code=200,
)
async def prefs_export(
    token: FromPath[str], request: Request[Any, Any, Any], db: Db
) -> Response[Any]:
    """Direct download: the signed link is the credential (it is only ever mailed to the
    address on file), and the POST carries a CSRF token."""
    try:
        subscriber = await _prefs_subscriber(request, db, token)
    except (NotFound, Gone) as exc:
        return _link_problem(exc)
    data = await export_data(db, subscriber)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        content=body.encode("utf-8"),
        media_type="application/json; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="mina-uppgifter.json"',
        },
    )


@get("/installningar/{token:str}/radera", include_in_schema=False, response_headers=PRIVATE)
async def erase_page(token: FromPath[str], request: Request[Any, Any, Any], db: Db) -> Template:
    try:
        subscriber = await _prefs_subscriber(request, db, token)
    except (NotFound, Gone) as exc:
        return _link_problem(exc)
    return Template(
        template_name="pages/subscribers/erase.html",
        context={"token": token, "email": subscriber.email},
    )


@post(
    "/installningar/{token:str}/radera",
    include_in_schema=False,
    response_headers=PRIVATE,
    status_code=200,
)
async def erase_submit(token: FromPath[str], request: Request[Any, Any, Any], db: Db) -> Template:
    settings = settings_of(request)
    try:
        subscriber = await _prefs_subscriber(request, db, token)
    except (NotFound, Gone) as exc:
        return _link_problem(exc)
    await erase(db, settings, subscriber.id, actor="subscriber")
    return Template(template_name="pages/subscribers/erased.html")


# --------------------------------------------------------------------- one-click


@get("/avregistrera/{token:str}", include_in_schema=False, response_headers=PRIVATE)
async def unsubscribe_page(token: FromPath[str], request: Request[Any, Any, Any]) -> Template:
    try:
        links.read_token(settings_of(request), links.UNSUBSCRIBE_PURPOSE, token)
    except NotFound as exc:
        return _link_problem(exc)
    return Template(template_name="pages/subscribers/unsubscribe.html", context={"token": token})


@post(
    "/avregistrera/{token:str}", include_in_schema=False, response_headers=PRIVATE, status_code=200
)
async def unsubscribe_one_click(
    token: FromPath[str], request: Request[Any, Any, Any], db: Db
) -> Template:
    """RFC 8058: works with only ``List-Unsubscribe=One-Click`` in the body, no cookie,
    no CSRF token; idempotent. Links from before an address change are honoured too:
    leaving is always allowed."""
    if not await unsubscribe_by_token(db, settings_of(request), token, channel="one-click"):
        return _link_problem(NotFound(MESSAGES["link_unknown"]))
    return Template(template_name="pages/subscribers/unsubscribed.html")


# ----------------------------------------------------------------- privacy notice


@get("/integritet", include_in_schema=False)
async def privacy_page(db: Db) -> Template:
    return Template(
        template_name="pages/subscribers/privacy.html",
        context={
            "privacy": await current_text(db, "privacy"),
            "consent": await current_text(db, "consent"),
            "privacy_versions": await text_versions(db, "privacy"),
            "consent_versions": await text_versions(db, "consent"),
            "archived": False,
        },
    )


async def _text_page(db: Db, kind: str, version: int) -> Template:
    try:
        text = await text_version(db, kind, version)
    except NotFound as exc:
        return _link_problem(exc)
    current = await current_text(db, kind)
    return Template(
        template_name="pages/subscribers/text_version.html",
        context={"text": text, "is_current": current.id == text.id},
    )


@get("/integritet/{version:int}", include_in_schema=False)
async def privacy_version(version: FromPath[int], db: Db) -> Template:
    return await _text_page(db, "privacy", version)


@get("/integritet/samtycke/{version:int}", include_in_schema=False)
async def consent_version(version: FromPath[int], db: Db) -> Template:
    return await _text_page(db, "consent", version)


def contribute(settings: Settings) -> Contribution:
    return Contribution(
        routes=[
            signup_page,
            embed_page,
            signup_submit,
            embed_submit,
            confirm_page,
            confirm_submit,
            preferences,
            prefs_submit,
            prefs_export,
            erase_page,
            erase_submit,
            unsubscribe_page,
            unsubscribe_one_click,
            privacy_page,
            privacy_version,
            consent_version,
        ],
        csrf_exclude=[
            r"^/prenumerera(/inbaddning)?$",
            r"^/bekrafta/[^/]+$",
            r"^/avregistrera/[^/]+$",
        ],
    )
