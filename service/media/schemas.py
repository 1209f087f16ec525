"""The image library's JSON API bodies (OpenAPI schemas)."""

from __future__ import annotations

from dataclasses import dataclass

from service.media.models import MediaFile


@dataclass
class MediaOut:
    id: int
    url: str
    content_type: str
    size: int
    width: int | None
    height: int | None

    @classmethod
    def of(cls, media: MediaFile) -> MediaOut:
        return cls(
            id=media.id,
            url=f"/media/{media.filename}",
            content_type=media.content_type,
            size=media.size,
            width=media.width,
            height=media.height,
        )
