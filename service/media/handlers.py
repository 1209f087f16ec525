"""Image upload over HTTP: ``/redaktion/bilder`` (form) and ``POST /api/v1/media`` (multipart).

Files are served by the app's static router at ``/media/<sha256>.<ext>``. The body limit
of the upload routes is the upload limit plus room for the multipart envelope; the file
size itself is checked exactly in :func:`service.media.service.store_upload`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import MultipartBody
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from service import api
from service.editor.auth import LOGIN_REDIRECT, actor_of, api_guard, current_editor, editor_guard
from service.errors import ValidationFailed
from service.issues.schemas import MediaOut
from service.media import service
from service.settings import Settings
from service.web import Contribution, settings_of

Db = NamedDependency[AsyncSession]
ENVELOPE = 64 * 1024


@dataclass
class MediaUpload:
    file: UploadFile


async def _store(request: Request[Any, Any, Any], db: AsyncSession, upload: Any) -> Any:
    editor = current_editor(request)
    if not isinstance(upload, UploadFile):
        raise ValidationFailed("Välj en bildfil att ladda upp.", fields={"file": "saknas"})
    data = await upload.read()
    return await service.store_upload(
        db,
        settings_of(request),
        data,
        upload.filename or "",
        editor_id=editor.id,
        actor=actor_of(editor),
    )


async def api_upload(
    request: Request[Any, Any, Any], db: Db, data: MultipartBody[MediaUpload]
) -> MediaOut:
    return MediaOut.of(await _store(request, db, data.file))


async def api_list(db: Db) -> list[MediaOut]:
    return [MediaOut.of(m) for m in await service.list_media(db)]


async def _page(db: AsyncSession, **context: Any) -> Template:
    status = context.pop("status", 200)
    return Template(
        template_name="pages/editor/media.html",
        context={"files": await service.list_media(db), "uploaded": None, "message": "",
                 "errors": {}, **context},
        status_code=status,
    )  # fmt: skip


async def page_list(db: Db) -> Template:
    return await _page(db)


async def page_upload(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    form = await request.form()
    try:
        media = await _store(request, db, form.get("file"))
    except ValidationFailed as exc:
        return await _page(db, message=exc.message, errors=exc.fields, status=422)
    return await _page(db, uploaded=media)


def contribute(settings: Settings) -> Contribution:
    limit = settings.max_upload_bytes + ENVELOPE
    api_docs: dict[str, Any] = {"guards": [api_guard], "tags": ["Bilder"], "security": api.SECURITY}
    ui: dict[str, Any] = {
        "guards": [editor_guard],
        "exception_handlers": LOGIN_REDIRECT,
        "include_in_schema": False,
    }
    return Contribution(
        routes=[
            post(
                "/api/v1/media",
                **api_docs,
                request_max_body_size=limit,
                responses=api.errors(400, 413, 422),
            )(api_upload),
            get("/api/v1/media", **api_docs, responses=api.errors())(api_list),
            get("/redaktion/bilder", **ui)(page_list),
            post("/redaktion/bilder", status_code=200, request_max_body_size=limit, **ui)(
                page_upload
            ),
        ]
    )
