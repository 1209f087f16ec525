"""HTTP side of delivery: the editor's delivery page, its JSON API, and the lifespan hook.

* ``/redaktion/utskick/{id}/leverans``: schedule / send now (each through a confirmation
  page: recipients, lists, time in words; only its button sends) / cancel / pause /
  resume (CSRF-protected forms), totals by state, sent per minute, ETA, the recipients who did
  not get it and why (also as CSV); follows the send in place (static/delivery.js).
* ``/api/v1/issues/{id}/send|cancel|pause|resume`` (POST) and ``/delivery`` (GET).
* When ``INNAN_RUN_WORKERS`` is true the app runs workers and the scheduler in-process.

Pages and API are controllers on the editor domain's bases (:mod:`service.editor.guards`);
pages send an anonymous visitor to the login form.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service import api
from service.core import csvsafe
from service.core.dates import STOCKHOLM, local
from service.delivery import service as delivery
from service.delivery.messages import CHANGED, NO_TIME, STATE_NAMES
from service.delivery.runner import in_app
from service.editor.guards import Actor, EditorApi, EditorPages
from service.errors import Conflict, NotFound, ValidationFailed
from service.mail import queue as mailqueue
from service.mail.messages import MAIL_KIND_NAMES, MAIL_STATE_NAMES
from service.settings import Settings
from service.web import Contribution, discard_attempt, settings_of

Db = NamedDependency[AsyncSession]
PAGE = "pages/editor/delivery.html"
CONFIRM_PAGE = "pages/editor/delivery_confirm.html"


async def _page(
    db: AsyncSession, issue_id: int, *, error: str = "", status: int = 200, at: str = ""
) -> Template:
    progress = await delivery.progress(db, issue_id)
    return Template(
        template_name=PAGE,
        context={
            "p": progress,
            "state_names": STATE_NAMES,
            "stockholm": STOCKHOLM,
            "error": error,
            "at_value": at,
            "refresh": progress.status == "sending" and not progress.paused,
            "eta_minutes": None
            if progress.eta_seconds is None
            else round(progress.eta_seconds / 60),
        },
        status_code=status,
    )


# The delivery page's forms post to /leverans/<Swedish verb>.
FORM_ACTIONS: dict[str, delivery.Action] = {
    "skicka": "send",
    "avbryt": "cancel",
    "pausa": "pause",
    "ateruppta": "resume",
}


class DeliveryPages(EditorPages):
    """An issue's delivery page, its CSV of problems, and its forms."""

    path = "/redaktion/utskick/{issue_id:int}"

    @get("/leverans")
    async def delivery_page(self, db: Db, issue_id: FromPath[int]) -> Template:
        return await _page(db, issue_id)

    @get("/leverans.csv")
    async def delivery_csv(self, db: Db, issue_id: FromPath[int]) -> Response[str]:
        progress = await delivery.progress(db, issue_id, problem_limit=None)
        out = io.StringIO()
        writer = csvsafe.writer(out, delimiter=";")
        writer.writerow(["e-post", "status", "orsak", "försök"])
        for row in progress.problems:
            writer.writerow(
                [row["email"], STATE_NAMES[row["state"]], row["reason"], row["attempts"]]
            )
        return Response(
            "\ufeff" + out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="leverans-{progress.slug}.csv"',
                "Cache-Control": "no-store",
            },
        )

    @post("/leverans/{verb:str}")
    async def delivery_form(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        actor: Actor,
        issue_id: FromPath[int],
        verb: FromPath[str],
    ) -> Template | Redirect:
        action = FORM_ACTIONS.get(verb)
        if action is None:
            raise NotFound("Sidan finns inte.")
        form = await request.form()
        at = str(form.get("at") or "").strip()
        try:
            if action == "send":
                return await _send_form(request, db, actor, issue_id, form)
            await delivery.run_action(
                db, settings_of(request), issue_id, action, actor=actor, at=at
            )
        except (ValidationFailed, Conflict) as exc:
            await discard_attempt(db)
            return await _page(db, issue_id, error=exc.message, status=exc.status_code, at=at)
        return Redirect(f"/redaktion/utskick/{issue_id}/leverans", status_code=303)


async def _send_form(
    request: Request[Any, Any, Any], db: AsyncSession, actor: str, issue_id: int, form: Any
) -> Template | Redirect:
    """ "Skicka nu" / "Schemalägg" show what would happen (count, lists, time in words);
    only the confirmation's own button, which carries the same time and the issue version
    it showed, sends or schedules."""
    choice = str(form.get("satt") or "")
    at = "" if choice == "nu" else str(form.get("at") or "").strip()
    if choice == "schema" and not at:
        raise ValidationFailed(NO_TIME, fields={"at": "saknas"})
    settings = settings_of(request)
    if str(form.get("bekraftad") or "") != "ja":
        plan = await delivery.plan_send(db, settings, issue_id, at=delivery.parse_at(at))
        return Template(
            template_name=CONFIRM_PAGE,
            context={"plan": plan, "issue": plan.issue, "typed_at": at},
            headers={"Cache-Control": "no-store"},
        )
    try:
        version: int | None = int(str(form.get("version") or ""))
    except ValueError:
        version = None
    if version is None:
        raise Conflict(CHANGED, fields={"version": "saknas"})
    await delivery.run_action(db, settings, issue_id, "send", actor=actor, at=at, version=version)
    return Redirect(f"/redaktion/utskick/{issue_id}/leverans", status_code=303)


# ------------------------------------------------------------ outgoing mail page

MAIL_PAGE = "pages/editor/mail_queue.html"
MAIL_PATH = "/redaktion/e-post"


class MailQueuePages(EditorPages):
    """The outgoing-mail page: every single mail, retry now or cancel one."""

    path = MAIL_PATH

    @get()
    async def mail_queue_page(self, db: Db, klart: FromQuery[str] = "") -> Template:
        """Single mails (confirmations, welcome mails, links, test sends) and how they went."""
        return Template(
            template_name=MAIL_PAGE,
            context={
                "o": await mailqueue.overview(db),
                "states": MAIL_STATE_NAMES,
                "kinds": MAIL_KIND_NAMES,
                "local": local,
                "done": klart if klart in ("igen", "avbrutet") else "",
            },
            headers={"Cache-Control": "no-store"},
        )

    @post("/{mail_id:int}/{verb:str}")
    async def mail_queue_action(
        self, db: Db, actor: Actor, mail_id: FromPath[int], verb: FromPath[str]
    ) -> Redirect:
        if verb == "forsok-igen":
            await mailqueue.retry_now(db, [mail_id], actor=actor)
            return Redirect(f"{MAIL_PATH}?klart=igen", status_code=303)
        if verb == "avbryt":
            await mailqueue.cancel(db, [mail_id], actor=actor)
            return Redirect(f"{MAIL_PATH}?klart=avbrutet", status_code=303)
        raise NotFound("Sidan finns inte.")


# ---------------------------------------------------------------------- JSON API


@dataclass
class DeliveryProblemOut:
    """A recipient who did not get the issue, and why."""

    delivery_id: int
    state: str  # failed | bounced | skipped
    reason: str
    attempts: int
    email: str  # "(raderad)" when the subscriber has since been erased


@dataclass
class SendPlanOut:
    """What `send` did: to how many it goes now (for a scheduled send, those it would go
    to at this moment: the audience is taken when sending starts), on which lists,
    narrowed to which organisations and roles, and when (in Swedish words)."""

    recipients: int
    lists: list[str]
    organisations: list[str]
    roles: list[str]
    when: str  # "nu direkt" or e.g. "tisdag 5 januari 2027 kl. 08.00" (Europe/Stockholm)
    at: datetime | None  # the scheduled time; null when sent now
    version: int  # the issue version that was sent or scheduled

    @classmethod
    def of(cls, plan: delivery.SendPlan) -> SendPlanOut:
        return cls(
            recipients=plan.recipients,
            lists=plan.lists,
            organisations=plan.organisations,
            roles=plan.roles,
            when=plan.when,
            at=plan.at,
            version=plan.version,
        )


@dataclass
class DeliveryOut:
    """Progress of an issue's delivery: totals by state, pace, ETA and the problems."""

    issue_id: int
    slug: str
    status: str  # draft | scheduled | sending | sent | cancelled
    paused: bool
    scheduled_at: datetime | None
    total: int
    totals: dict[str, int]
    sent_per_minute: float
    eta_seconds: int | None
    problems: list[DeliveryProblemOut]
    error: str | None  # why the worker paused the send (it could not build the message)
    plan: SendPlanOut | None = None  # only in the answer to `send`: what it was asked to do

    @classmethod
    def of(cls, progress: delivery.Progress, plan: delivery.SendPlan | None = None) -> DeliveryOut:
        data = progress.as_json()
        data["scheduled_at"] = progress.scheduled_at
        data["problems"] = [DeliveryProblemOut(**row) for row in data["problems"]]
        return cls(**data, plan=SendPlanOut.of(plan) if plan else None)


@dataclass
class SendIn:
    """``at``: when to send (ISO 8601; no zone = Europe/Stockholm); empty = now. A past
    time, or one more than a year ahead, is refused (422). ``version``: optional, the
    issue version you read; 409 if the issue has changed since."""

    at: str | None = None
    version: int | None = None


async def _api(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    actor: str,
    issue_id: int,
    action: delivery.Action,
    at: str | None = None,
) -> DeliveryOut:
    await delivery.run_action(db, settings_of(request), issue_id, action, actor=actor, at=at)
    return DeliveryOut.of(await delivery.progress(db, issue_id))


class DeliveryApi(EditorApi):
    """Send, schedule, cancel, pause and resume an issue, and its progress."""

    path = "/api/v1/issues/{issue_id:int}"
    tags = ("Leverans",)

    @post(
        "/send",
        status_code=200,
        responses=api.errors(400, 404, 409, 413, 422),
    )
    async def api_send(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        actor: Actor,
        issue_id: FromPath[int],
        data: JSONBody[SendIn | None] = None,
    ) -> DeliveryOut:
        """Send now, or schedule with ``{"at": "2027-01-05T08:00+01:00"}`` (body optional).

        No confirmation step: the answer's ``plan`` says how many it went to (or would go to
        now, when scheduled), the lists and the time in words. Refused with 422: a past
        time, one more than a year ahead, no lists, an issue with nothing to read, no
        recipients. 409: already sending or sent, or a stale ``version``.
        """
        plan = await delivery.start_send(
            db,
            settings_of(request),
            issue_id,
            at=delivery.parse_at(data.at if data else None),
            actor=actor,
            version=data.version if data else None,
        )
        await db.flush()
        return DeliveryOut.of(await delivery.progress(db, issue_id), plan)

    @post(
        "/cancel",
        status_code=200,
        responses=api.errors(400, 404, 409),
    )
    async def api_cancel(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, issue_id: FromPath[int]
    ) -> DeliveryOut:
        return await _api(request, db, actor, issue_id, "cancel")

    @post(
        "/pause",
        status_code=200,
        responses=api.errors(400, 404, 409),
    )
    async def api_pause(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, issue_id: FromPath[int]
    ) -> DeliveryOut:
        return await _api(request, db, actor, issue_id, "pause")

    @post(
        "/resume",
        status_code=200,
        responses=api.errors(400, 404, 409),
    )
    async def api_resume(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, issue_id: FromPath[int]
    ) -> DeliveryOut:
        return await _api(request, db, actor, issue_id, "resume")

    @get("/delivery", responses=api.errors(400, 404))
    async def api_status(self, db: Db, issue_id: FromPath[int]) -> DeliveryOut:
        """Totals by state, sent per minute, ETA and the recipients who did not get it."""
        return DeliveryOut.of(await delivery.progress(db, issue_id))


def contribute(settings: Settings) -> Contribution:
    return Contribution(
        routes=[DeliveryPages, MailQueuePages, DeliveryApi],
        lifespan=[in_app] if settings.run_workers else [],
    )
