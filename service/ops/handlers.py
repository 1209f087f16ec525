"""Admin pages of the operations domain: CSV import of subscribers at ``/redaktion/import``.

The page shows an upload form (file, list, lawful basis, source, dry run), runs the same
import service as ``innanforskapet subscribers import`` and shows its report; rejected
rows are kept as a CSV file under ``INNAN_VAR_DIR/imports`` and offered for download
through a random name. Only signed-in administrators reach these routes
(:class:`~service.editor.guards.AdminPages`); others are sent to the login page or get 403.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import File, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.editor.guards import Actor, AdminPages
from service.errors import NotFound, ValidationFailed
from service.ops.import_csv import import_subscribers
from service.ops.messages import BASIS_LABELS
from service.settings import Settings
from service.web import Contribution, settings_of
from subscribers import service as subscribers_service

IMPORT_PAGE = "pages/ops/import.html"
MAX_IMPORT_BYTES = 50 * 1024 * 1024
REJECT_NAME = re.compile(r"^[A-Za-z0-9_-]{20,64}$")

Db = NamedDependency[AsyncSession]


def _rejects_dir(settings: Settings) -> Path:
    return settings.var_dir / "imports"


async def _context(db: AsyncSession, **extra: Any) -> dict[str, Any]:
    form = {"list": "nyhetsbrev", "basis": "consent", "source": "", "dry_run": True}
    form.update(extra.pop("form", {}))
    return {
        "lists": await subscribers_service.all_lists(db),
        "basis_labels": BASIS_LABELS,
        "form": form,
        "report": None,
        "reject_url": None,
        "errors": {},
        **extra,
    }


class ImportPages(AdminPages):
    """CSV import of subscribers: administrators only (importing people with a claimed
    lawful basis is an administrator's task)."""

    path = "/redaktion/import"

    @get()
    async def import_page(self, db: Db) -> Template:
        return Template(template_name=IMPORT_PAGE, context=await _context(db))

    @post(request_max_body_size=MAX_IMPORT_BYTES)
    async def import_upload(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor
    ) -> Template:
        settings = settings_of(request)
        data = await request.form()
        upload = data.get("file")
        list_slug = str(data.get("list") or "")
        basis = str(data.get("basis") or "")
        source = str(data.get("source") or "")[:200]
        dry_run = bool(data.get("dry_run"))
        form = {"list": list_slug, "basis": basis, "source": source, "dry_run": dry_run}
        if not isinstance(upload, UploadFile) or not upload.filename:
            message = "Välj en CSV-fil att importera."
            context = await _context(db, form=form, errors={"file": message})
            return Template(template_name=IMPORT_PAGE, context=context, status_code=422)
        directory = _rejects_dir(settings)
        directory.mkdir(parents=True, exist_ok=True)
        name = secrets.token_urlsafe(24)
        reject_path = directory / f"{name}.csv"
        try:
            with reject_path.open("w", encoding="utf-8-sig", newline="") as rejects:
                report = await import_subscribers(
                    db,
                    settings,
                    upload.file,  # a seekable spooled temporary file
                    list_slug=list_slug,
                    basis=basis,
                    source=source,
                    dry_run=dry_run,
                    reject_out=rejects,
                    actor=actor,
                )
        except ValidationFailed as exc:
            reject_path.unlink(missing_ok=True)
            errors = dict(exc.fields) or {"file": exc.message}
            context = await _context(db, form=form, errors=errors)
            return Template(template_name=IMPORT_PAGE, context=context, status_code=422)
        finally:
            await upload.close()
        reject_url = None
        if report.rejected:
            reject_path.chmod(0o600)
            reject_url = f"/redaktion/import/avvisade/{name}"
        else:
            reject_path.unlink(missing_ok=True)
        context = await _context(db, form=form, report=report, reject_url=reject_url)
        return Template(template_name=IMPORT_PAGE, context=context)

    @get("/avvisade/{name:str}")
    async def import_rejects(self, request: Request[Any, Any, Any], name: FromPath[str]) -> File:
        settings = settings_of(request)
        path = _rejects_dir(settings) / f"{name}.csv"
        if not REJECT_NAME.match(name) or not path.is_file():
            raise NotFound("Filen med avvisade rader finns inte (längre).")
        return File(
            path=path,
            filename="avvisade-rader.csv",
            media_type="text/csv; charset=utf-8",
            headers={"Cache-Control": "no-store"},
        )


def contribute(settings: Settings) -> Contribution:
    return Contribution(routes=[ImportPages])
