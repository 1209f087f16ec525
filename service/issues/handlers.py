"""Composing issues over HTTP: the editor pages under ``/redaktion`` and ``/api/v1``.

Handlers are thin: they parse input, call :mod:`service.issues.service`, and render.

Editor forms get a body limit of their own (:data:`EDITOR_FORM_MAX_BYTES`), larger than
the app's, so that an oversized paste still arrives, is refused by validation with the
length it had, and comes back in its textarea instead of on a bare 413 page.

Optimistic locking: the editor's block forms always carry the issue ``version`` they
were rendered with (a form without one is treated as stale); in the JSON API ``version``
stays optional (in the body, or as ``?version=`` on DELETE) for existing clients.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service import api
from service.core.dates import format_datetime, local
from service.editor.guards import Actor, CurrentEditor, EditorApi, EditorPages
from service.errors import ValidationFailed
from service.issues import service
from service.issues.blocks import MAX_BODY, block_data_from_form, block_title
from service.issues.models import BLOCK_KINDS, DELETED_KEEP_DAYS
from service.issues.pickers import calendar_picker, library_images
from service.issues.render import render_issue
from service.issues.schemas import (
    BlockDataIn,
    BlockIn,
    BlockOut,
    DeletedIssueOut,
    IssueIn,
    IssueOut,
    MailingListOut,
    PreviewOut,
    QueuedMailOut,
    ReorderIn,
    TestSendIn,
    TestSendOut,
)
from service.issues.service import STATUS_SV, IssueFields, StaleVersion
from service.issues.testsend import preview, test_send
from service.issues.testsend import recent as recent_test_sends
from service.mail.messages import MAIL_STATE_NAMES
from service.settings import Settings
from service.web import Contribution, discard_attempt, settings_of

Db = NamedDependency[AsyncSession]

# The body limit of the editor's issue and block forms: room for a pasted text far over
# the 20 000 characters a block takes, so it can be refused with its length and kept.
EDITOR_FORM_MAX_BYTES = 8 * 1024 * 1024


def _fields(data: JSONBody[IssueIn]) -> IssueFields:
    return IssueFields(
        title=data.title,
        subject=data.subject,
        preheader=data.preheader,
        issue_date=data.issue_date,
        slug=data.slug,
        list_ids=data.list_ids,
        organisations=data.organisations,
        roles=data.roles,
    )


async def _form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {key: str(form.get(key) or "") for key in form}
    out["list_ids"] = [int(x) for x in form.getall("list_ids", []) if str(x).isdigit()]
    out["item_ids"] = [str(x) for x in form.getall("item_ids", [])]  # the ticked items
    return out


def _issue_fields(form: dict[str, Any]) -> IssueFields:
    def split(key: str) -> list[str]:
        return [x.strip() for x in str(form.get(key, "")).split(",") if x.strip()]

    return IssueFields(
        title=form.get("title", ""),
        subject=form.get("subject", ""),
        preheader=form.get("preheader", ""),
        issue_date=form.get("issue_date", ""),
        slug=form.get("slug", ""),
        list_ids=form["list_ids"],
        organisations=split("organisations"),
        roles=split("roles"),
    )


def _version(form: dict[str, Any]) -> int | None:
    raw = form.get("version", "")
    return int(raw) if str(raw).isdigit() else None


def _placement(form: dict[str, Any]) -> dict[str, int | None]:
    """Where the add-block form puts the new block: ``placering`` is ``forst``, ``sist``
    (or empty) or ``efter-<block id>``; the keyword arguments of ``service.add_block``."""
    raw = str(form.get("placering", "")).strip()
    if raw in ("", "sist"):
        return {"position": None, "after_block": None}
    if raw == "forst":
        return {"position": 0, "after_block": None}
    after = raw.removeprefix("efter-")
    if after != raw and after.isdigit():
        return {"position": None, "after_block": int(after)}
    raise ValidationFailed(
        "Välj var blocket ska placeras.", fields={"placering": "okänd placering"}
    )


def _block_version(form: dict[str, Any]) -> int:
    """The version a block form was rendered with. A form without one (a page from before
    versions were sent) gets 0, which never matches, so it is answered as stale."""
    return _version(form) or 0


async def _issue_form_page(
    db: AsyncSession,
    *,
    issue: Any = None,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    status: int = 200,
) -> Template:
    return Template(
        template_name="pages/editor/issue_form.html",
        context={
            "issue": issue,
            "form": form or {},
            "errors": errors or {},
            "message": message,
            "lists": await service.list_mailing_lists(db),
        },
        status_code=status,
    )


async def _editor_page(
    db: AsyncSession,
    issue_id: int,
    *,
    errors: dict[str, str] | None = None,
    message: str = "",
    form: dict[str, Any] | None = None,
    block_id: int | None = None,
    status: int = 200,
    notice: str = "",
    stale: bool = False,
    after: int | None = None,
) -> Template:
    issue = await service.get_issue(db, issue_id)
    return Template(
        template_name="pages/editor/issue.html",
        context={
            "issue": issue,
            "errors": errors or {},
            "message": message,
            "form": form or {},
            "error_block": block_id,
            "kinds": BLOCK_KINDS,
            "status_sv": STATUS_SV,
            "editable": issue.status in service.EDITABLE,
            "lists": await service.list_mailing_lists(db),
            "notice": notice,
            "stale": stale,
            "calendar_picker": await calendar_picker(db, issue.issue_date, issue.blocks),
            "image_picker": await library_images(db),
            "block_title": block_title,
            "text_max": MAX_BODY,
            "after": after,
            "keep_days": DELETED_KEEP_DAYS,
        },
        status_code=status,
    )


async def _stale_page(
    db: AsyncSession,
    issue_id: int,
    exc: StaleVersion,
    *,
    form: dict[str, Any] | None = None,
    block_id: int | None = None,
) -> Template:
    """409: the editor page as it is now, with what the editor typed kept in its form."""
    await discard_attempt(db)
    db.expunge_all()  # render the current issue, not the objects of the failed attempt
    return await _editor_page(
        db, issue_id, message=exc.message, form=form, block_id=block_id, status=409, stale=True
    )


async def _preview_page(
    db: AsyncSession,
    settings: Settings,
    issue_id: int,
    *,
    view: str,
    queued: bool = False,
    errors: dict[str, str] | None = None,
    message: str = "",
    addresses: str = "",
    status: int = 200,
) -> Template:
    issue = await service.get_issue(db, issue_id)
    shown = preview(settings, await render_issue(db, settings, issue_id))
    return Template(
        template_name="pages/editor/preview.html",
        context={
            "issue": issue,
            "shown": shown,
            "view": view,
            "queued": queued,
            "test_sends": await recent_test_sends(db, issue_id),
            "mail_states": MAIL_STATE_NAMES,
            "local": local,
            "errors": errors or {},
            "message": message,
            "addresses": addresses,
        },
        status_code=status,
    )


class IssueApi(EditorApi):
    """Issues, their blocks, preview and test sends over JSON; the lists they can target."""

    path = "/api/v1"
    tags = ("Utskick",)

    @get("/issues", responses=api.errors())
    async def api_list(self, db: Db) -> list[IssueOut]:
        return [IssueOut.of(i) for i in await service.list_issues(db)]

    @get("/lists", responses=api.errors())
    async def api_lists(self, db: Db) -> list[MailingListOut]:
        """The mailing lists an issue can target (``list_ids``)."""
        return [
            MailingListOut(id=m.id, slug=m.slug, name=m.name)
            for m in await service.list_mailing_lists(db)
        ]

    @post("/issues", responses=api.errors(400, 413, 422))
    async def api_create(
        self, db: Db, editor: CurrentEditor, actor: Actor, data: JSONBody[IssueIn]
    ) -> IssueOut:
        issue = await service.create_issue(db, _fields(data), editor_id=editor.id, actor=actor)
        return IssueOut.of(issue)

    @get("/issues/{issue_id:int}", responses=api.errors(400, 404))
    async def api_get(self, db: Db, issue_id: FromPath[int]) -> IssueOut:
        return IssueOut.of(await service.get_issue(db, issue_id))

    @put("/issues/{issue_id:int}", responses=api.errors(400, 404, 409, 413, 422))
    async def api_update(
        self, db: Db, actor: Actor, issue_id: FromPath[int], data: JSONBody[IssueIn]
    ) -> IssueOut:
        issue = await service.update_issue(
            db, issue_id, _fields(data), version=data.version, actor=actor
        )
        return IssueOut.of(issue)

    @delete("/issues/{issue_id:int}", responses=api.errors(400, 404, 409))
    async def api_delete(self, db: Db, actor: Actor, issue_id: FromPath[int]) -> None:
        """Move a draft or cancelled issue to the deleted drafts: restorable for 30 days
        (``POST …/restore``), then purged; until then every other route answers 404."""
        await service.delete_issue(db, issue_id, actor=actor)

    @get("/issues/deleted", responses=api.errors())
    async def api_deleted(self, db: Db) -> list[DeletedIssueOut]:
        """The deleted drafts that can still be restored, most recently deleted first."""
        return [DeletedIssueOut.of(i) for i in await service.list_deleted(db)]

    @post("/issues/{issue_id:int}/restore", status_code=200, responses=api.errors(400, 404))
    async def api_restore(self, db: Db, actor: Actor, issue_id: FromPath[int]) -> IssueOut:
        """Bring a deleted draft back with all its blocks (404 if it is not deleted)."""
        return IssueOut.of(await service.restore_issue(db, issue_id, actor=actor))

    @post("/issues/{issue_id:int}/duplicate", responses=api.errors(400, 404))
    async def api_duplicate(
        self, db: Db, editor: CurrentEditor, actor: Actor, issue_id: FromPath[int]
    ) -> IssueOut:
        copy = await service.duplicate_issue(db, issue_id, editor_id=editor.id, actor=actor)
        return IssueOut.of(copy)

    @post("/issues/{issue_id:int}/blocks", responses=api.errors(400, 404, 409, 413, 422))
    async def api_add_block(
        self, db: Db, actor: Actor, issue_id: FromPath[int], data: JSONBody[BlockIn]
    ) -> BlockOut:
        block = await service.add_block(
            db,
            issue_id,
            data.kind,
            data.data,
            position=data.position,
            after_block=data.after_block,
            version=data.version,
            actor=actor,
        )
        return BlockOut.of(block)

    @patch(
        "/issues/{issue_id:int}/blocks/{block_id:int}",
        responses=api.errors(400, 404, 409, 413, 422),
    )
    async def api_update_block(
        self,
        db: Db,
        actor: Actor,
        issue_id: FromPath[int],
        block_id: FromPath[int],
        data: JSONBody[BlockDataIn],
    ) -> BlockOut:
        block = await service.update_block(
            db, issue_id, block_id, data.data, version=data.version, actor=actor
        )
        return BlockOut.of(block)

    @delete(
        "/issues/{issue_id:int}/blocks/{block_id:int}",
        responses=api.errors(400, 404, 409),
    )
    async def api_delete_block(
        self,
        db: Db,
        actor: Actor,
        issue_id: FromPath[int],
        block_id: FromPath[int],
        version: FromQuery[int | None] = None,
    ) -> None:
        """``?version=`` (optional): the issue version you read; 409 if it has changed since."""
        await service.delete_block(db, issue_id, block_id, version=version, actor=actor)

    @put(
        "/issues/{issue_id:int}/blocks/order",
        responses=api.errors(400, 404, 409, 413, 422),
    )
    async def api_reorder(
        self, db: Db, actor: Actor, issue_id: FromPath[int], data: JSONBody[ReorderIn]
    ) -> IssueOut:
        issue = await service.reorder_blocks(
            db, issue_id, data.block_ids, version=data.version, actor=actor
        )
        return IssueOut.of(issue)

    @get("/issues/{issue_id:int}/preview", responses=api.errors(400, 404))
    async def api_preview(
        self, request: Request[Any, Any, Any], db: Db, issue_id: FromPath[int]
    ) -> PreviewOut:
        settings = settings_of(request)
        shown = preview(settings, await render_issue(db, settings, issue_id))
        return PreviewOut(html=shown.html, text=shown.text, headers=dict(shown.headers))

    @post(
        "/issues/{issue_id:int}/test-send",
        status_code=202,
        responses=api.errors(400, 404, 413, 422),
    )
    async def api_test_send(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        editor: CurrentEditor,
        actor: Actor,
        issue_id: FromPath[int],
        data: JSONBody[TestSendIn],
    ) -> TestSendOut:
        """Queue a test send; it is sent within seconds by the worker (see ``test-sends``)."""
        await service.get_issue(db, issue_id)
        rows = await test_send(
            db,
            settings_of(request),
            issue_id,
            data.addresses,
            actor=actor,
            editor_id=editor.id,
        )
        return TestSendOut(queued=[QueuedMailOut.of(row) for row in rows])

    @get("/issues/{issue_id:int}/test-sends", responses=api.errors(400, 404))
    async def api_test_sends(self, db: Db, issue_id: FromPath[int]) -> list[QueuedMailOut]:
        """The issue's latest test sends and what the mail server answered, newest first."""
        await service.get_issue(db, issue_id)
        return [QueuedMailOut.of(row) for row in await recent_test_sends(db, issue_id)]


class IssuePages(EditorPages):
    """The list of issues, the issue and block editor, preview and test send."""

    path = "/redaktion"

    @get()
    async def page_list(
        self, db: Db, editor: CurrentEditor, borttaget: FromQuery[int | None] = None
    ) -> Template:
        """``?borttaget=<id>``: just deleted; the page offers to undo it."""
        deleted = await service.list_deleted(db)
        return Template(
            template_name="pages/editor/issues.html",
            context={
                "issues": await service.list_issues(db),
                "status_sv": STATUS_SV,
                "editor": editor,
                "just_deleted": next((i for i in deleted if i.id == borttaget), None),
                "deleted_count": len(deleted),
                "keep_days": DELETED_KEEP_DAYS,
            },
        )

    @get("/borttagna")
    async def page_deleted(self, db: Db) -> Template:
        return Template(
            template_name="pages/editor/deleted_issues.html",
            context={
                "issues": await service.list_deleted(db),
                "status_sv": STATUS_SV,
                "keep_days": DELETED_KEEP_DAYS,
                "format_datetime": format_datetime,
            },
        )

    @get("/utskick/nytt")
    async def page_new(self, db: Db) -> Template:
        return await _issue_form_page(db)

    @post("/utskick/nytt", status_code=303, request_max_body_size=EDITOR_FORM_MAX_BYTES)
    async def page_create(
        self, request: Request[Any, Any, Any], db: Db, editor: CurrentEditor, actor: Actor
    ) -> Response[Any]:
        form = await _form(request)
        try:
            issue = await service.create_issue(
                db, _issue_fields(form), editor_id=editor.id, actor=actor
            )
        except ValidationFailed as exc:
            return await _issue_form_page(
                db, form=form, errors=exc.fields, message=exc.message, status=422
            )
        return Redirect(f"/redaktion/utskick/{issue.id}", status_code=303)

    @get("/utskick/{issue_id:int}")
    async def page_issue(
        self,
        db: Db,
        issue_id: FromPath[int],
        efter: FromQuery[int | None] = None,
        aterstallt: FromQuery[int | None] = None,
    ) -> Template:
        """``?efter=<block id>``: the add-block forms put the new block after that one;
        ``?aterstallt=1``: the draft was just restored."""
        notice = "Utkastet är återställt med alla sina block." if aterstallt else ""
        return await _editor_page(db, issue_id, after=efter, notice=notice)

    @post("/utskick/{issue_id:int}", status_code=303, request_max_body_size=EDITOR_FORM_MAX_BYTES)
    async def page_update(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, issue_id: FromPath[int]
    ) -> Response[Any]:
        form = await _form(request)
        try:
            await service.update_issue(
                db, issue_id, _issue_fields(form), version=_version(form), actor=actor
            )
        except StaleVersion as exc:
            return await _stale_page(db, issue_id, exc, form=form)
        except ValidationFailed as exc:
            return await _editor_page(
                db, issue_id, errors=exc.fields, message=exc.message, form=form, status=422
            )
        return Redirect(f"/redaktion/utskick/{issue_id}?sparat=1", status_code=303)

    @post("/utskick/{issue_id:int}/duplicera", status_code=303)
    async def page_duplicate(
        self, db: Db, editor: CurrentEditor, actor: Actor, issue_id: FromPath[int]
    ) -> Redirect:
        copy = await service.duplicate_issue(db, issue_id, editor_id=editor.id, actor=actor)
        return Redirect(f"/redaktion/utskick/{copy.id}", status_code=303)

    @post("/utskick/{issue_id:int}/ta-bort", status_code=303)
    async def page_delete(self, db: Db, actor: Actor, issue_id: FromPath[int]) -> Redirect:
        await service.delete_issue(db, issue_id, actor=actor)
        return Redirect(f"/redaktion?borttaget={issue_id}", status_code=303)

    @post("/utskick/{issue_id:int}/aterstall", status_code=303)
    async def page_restore(self, db: Db, actor: Actor, issue_id: FromPath[int]) -> Redirect:
        await service.restore_issue(db, issue_id, actor=actor)
        return Redirect(f"/redaktion/utskick/{issue_id}?aterstallt=1", status_code=303)

    @post(
        "/utskick/{issue_id:int}/block",
        status_code=303,
        request_max_body_size=EDITOR_FORM_MAX_BYTES,
    )
    async def page_add_block(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, issue_id: FromPath[int]
    ) -> Response[Any]:
        form = await _form(request)
        kind = form.get("kind", "")
        try:
            block = await service.add_block(
                db,
                issue_id,
                kind,
                block_data_from_form(kind, form),
                **_placement(form),
                version=_block_version(form),
                actor=actor,
            )
        except StaleVersion as exc:
            return await _stale_page(db, issue_id, exc, form=form, block_id=0)
        except ValidationFailed as exc:
            return await _editor_page(
                db,
                issue_id,
                errors=exc.fields,
                message=exc.message,
                form=form,
                block_id=0,
                status=422,
            )
        return Redirect(f"/redaktion/utskick/{issue_id}#block-{block.id}", status_code=303)

    @post(
        "/utskick/{issue_id:int}/block/{block_id:int}",
        status_code=303,
        request_max_body_size=EDITOR_FORM_MAX_BYTES,
    )
    async def page_block_action(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        actor: Actor,
        issue_id: FromPath[int],
        block_id: FromPath[int],
    ) -> Response[Any]:
        form = await _form(request)
        action = form.get("action", "save")
        try:
            version = _block_version(form)
            if action in ("up", "down"):
                direction = -1 if action == "up" else 1
                await service.move_block(
                    db, issue_id, block_id, direction, version=version, actor=actor
                )
            elif action == "delete":
                await service.delete_block(db, issue_id, block_id, version=version, actor=actor)
            else:
                issue = await service.get_issue(db, issue_id)
                kind = next((b.kind for b in issue.blocks if b.id == block_id), "")
                await service.update_block(
                    db,
                    issue_id,
                    block_id,
                    block_data_from_form(kind, form),
                    version=version,
                    actor=actor,
                )
        except StaleVersion as exc:
            kept = form if action == "save" else None
            return await _stale_page(
                db, issue_id, exc, form=kept, block_id=block_id if kept else None
            )
        except ValidationFailed as exc:
            return await _editor_page(
                db,
                issue_id,
                errors=exc.fields,
                message=exc.message,
                form=form,
                block_id=block_id,
                status=422,
            )
        # Back to the block moved or saved; after a delete to the list of blocks.
        anchor = "block" if action == "delete" else f"block-{block_id}"
        return Redirect(f"/redaktion/utskick/{issue_id}#{anchor}", status_code=303)

    @get("/utskick/{issue_id:int}/forhandsvisning")
    async def page_preview(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        issue_id: FromPath[int],
    ) -> Template:
        view = request.query_params.get("vy", "dator")
        queued = request.query_params.get("prov") == "1"
        return await _preview_page(db, settings_of(request), issue_id, view=view, queued=queued)

    @get("/utskick/{issue_id:int}/forhandsvisning/html")
    async def page_preview_html(
        self, request: Request[Any, Any, Any], db: Db, issue_id: FromPath[int]
    ) -> Response[str]:
        settings = settings_of(request)
        shown = preview(settings, await render_issue(db, settings, issue_id))
        return Response(
            shown.html,
            media_type="text/html; charset=utf-8",
            headers={
                # Mail HTML is inline styles throughout; no script, framed by our page only.
                "Content-Security-Policy": (
                    "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
                    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
                ),
                "X-Frame-Options": "SAMEORIGIN",
            },
        )

    @post("/utskick/{issue_id:int}/provutskick")
    async def page_test_send(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        editor: CurrentEditor,
        actor: Actor,
        issue_id: FromPath[int],
    ) -> Template | Redirect:
        await service.get_issue(db, issue_id)
        form = await _form(request)
        settings = settings_of(request)
        addresses = [
            a for a in form.get("addresses", "").replace(",", "\n").splitlines() if a.strip()
        ]
        try:
            await test_send(
                db,
                settings,
                issue_id,
                addresses,
                actor=actor,
                editor_id=editor.id,
            )
        except ValidationFailed as exc:
            return await _preview_page(
                db,
                settings,
                issue_id,
                view="dator",
                errors=exc.fields,
                message=exc.message,
                addresses=form.get("addresses", ""),
                status=422,
            )
        return Redirect(
            f"/redaktion/utskick/{issue_id}/forhandsvisning?prov=1#prov", status_code=303
        )


def contribute(settings: Settings) -> Contribution:
    return Contribution(routes=[IssueApi, IssuePages])
