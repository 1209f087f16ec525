"""Image upload over HTTP: ``/redaktion/bilder`` (form) and ``POST /api/v1/media`` (multipart).

Files are served by the app's static router at ``/media/<sha256>.<ext>``. The body limit
of these routes is the upload limit plus room for the multipart envelope; the file
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
from service.editor.guards import Actor, CurrentEditor, EditorApi, EditorPages
from service.editor.models import Editor
from service.errors import ValidationFailed
from service.media import service
from service.media.schemas import MediaOut
from service.settings import Settings
from service.web import Contribution, Controller, settings_of

Db = NamedDependency[AsyncSession]
ENVELOPE = 64 * 1024


@dataclass
class MediaUpload:
    file: UploadFile


async def _store(
    request: Request[Any, Any, Any], db: AsyncSession, editor: Editor, actor: str, upload: Any
) -> Any:
    if not isinstance(upload, UploadFile):
        raise ValidationFailed("Välj en bildfil att ladda upp.", fields={"file": "saknas"})
    data = await upload.read()
    return await service.store_upload(
        db,
        settings_of(request),
        data,
        upload.filename or "",
        editor_id=editor.id,
        actor=actor,
    )


async def _page(db: AsyncSession, **context: Any) -> Template:
    status = context.pop("status", 200)
    return Template(
        template_name="pages/editor/media.html",
        context={"files": await service.list_media(db), "uploaded": None, "message": "",
                 "errors": {}, **context},
        status_code=status,
    )  # fmt: skip


class MediaApi(EditorApi):
    """Upload an image, list the uploaded ones."""

    path = "/api/v1/media"
    tags = ("Bilder",)

    @post(responses=api.errors(400, 413, 422))
    async def api_upload(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        editor: CurrentEditor,
        actor: Actor,
        data: MultipartBody[MediaUpload],
    ) -> MediaOut:
        return MediaOut.of(await _store(request, db, editor, actor, data.file))

    @get(responses=api.errors())
    async def api_list(self, db: Db) -> list[MediaOut]:
        return [MediaOut.of(m) for m in await service.list_media(db)]


class MediaPages(EditorPages):
    """The editor's image page: the uploaded images and the upload form."""

    path = "/redaktion/bilder"

    @get()
    async def page_list(self, db: Db) -> Template:
        return await _page(db)

    @post(status_code=200)
    async def page_upload(
        self, request: Request[Any, Any, Any], db: Db, editor: CurrentEditor, actor: Actor
    ) -> Response[Any]:
        form = await request.form()
        try:
            media = await _store(request, db, editor, actor, form.get("file"))
        except ValidationFailed as exc:
            return await _page(db, message=exc.message, errors=exc.fields, status=422)
        return await _page(db, uploaded=media)


def _with_body_limit(controller: type[Controller], limit: int) -> type[Controller]:
    """``controller`` with the upload limit of these settings as its body limit."""
    return type(controller.__name__, (controller,), {"request_max_body_size": limit})


def contribute(settings: Settings) -> Contribution:
    limit = settings.max_upload_bytes + ENVELOPE
    return Contribution(
        routes=[_with_body_limit(MediaApi, limit), _with_body_limit(MediaPages, limit)]
    )
