"""Images for issues: uploads checked by content and size, stored once per content hash;
external image URLs checked against SSRF (https only, public addresses only)."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import socket
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit
from service.core.text import has_control_chars, without_control_chars
from service.errors import ValidationFailed
from service.media.models import MediaFile
from service.settings import Settings


# Magic bytes → (content type, extension). The filename is never trusted.
def sniff_image(data: bytes) -> tuple[str, str] | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif", "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def _dimensions(data: bytes, content_type: str) -> tuple[int | None, int | None]:
    try:
        if content_type == "image/png" and len(data) >= 24:
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if content_type == "image/gif" and len(data) >= 10:
            return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    except ValueError:
        pass
    return None, None


async def store_upload(
    session: AsyncSession,
    settings: Settings,
    data: bytes,
    original_name: str,
    *,
    editor_id: int | None,
    actor: str,
) -> MediaFile:
    """Validate and store an uploaded image; the same content is stored once."""
    if not data:
        raise ValidationFailed("Välj en bildfil att ladda upp.", fields={"file": "tom fil"})
    if len(data) > settings.max_upload_bytes:
        limit = settings.max_upload_bytes // 1024
        raise ValidationFailed(
            f"Bilden är för stor (högst {limit} kB).", fields={"file": "för stor"}
        )
    sniffed = sniff_image(data)
    if sniffed is None:
        raise ValidationFailed(
            "Filen är inte en bild i formatet PNG, JPEG, GIF eller WebP.",
            fields={"file": "inte en bild"},
        )
    content_type, ext = sniffed
    digest = hashlib.sha256(data).hexdigest()
    existing = (
        await session.execute(select(MediaFile).where(MediaFile.sha256 == digest))
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    filename = f"{digest}.{ext}"
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    target = settings.media_dir / filename
    if not target.exists():
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    width, height = _dimensions(data, content_type)
    media = MediaFile(
        sha256=digest,
        filename=filename,
        original_name=without_control_chars(original_name or "")[:255],
        content_type=content_type,
        size=len(data),
        width=width,
        height=height,
        uploaded_by=editor_id,
    )
    session.add(media)
    await session.flush()
    audit.record(session, actor, "upload", "media", media.id, filename=filename)
    return media


async def list_media(session: AsyncSession) -> list[MediaFile]:
    return list(
        (await session.execute(select(MediaFile).order_by(MediaFile.created_at.desc()))).scalars()
    )


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


async def check_external_url(url: str, *, field: str = "image_src") -> str:
    """An external image URL that is https and resolves only to public addresses.

    The name is resolved by the event loop's resolver (a thread), so a slow DNS server
    holds up this request only, not every request the process serves.
    """
    bad = "Bildadressen måste börja med https:// och peka på en publik webbserver."
    value = (url or "").strip()
    if len(value) > 1000:
        raise ValidationFailed("Bildadressen är för lång.", fields={field: "för lång"})
    if has_control_chars(value):
        raise ValidationFailed(bad, fields={field: "otillåtna tecken"})
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValidationFailed(bad, fields={field: "endast https"})
    host = parts.hostname
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, parts.port or 443, proto=socket.IPPROTO_TCP
            )
        except (socket.gaierror, UnicodeError):
            raise ValidationFailed(
                "Bildadressens server kunde inte hittas.", fields={field: "okänd server"}
            ) from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses or any(_refused(a) for a in addresses):
        raise ValidationFailed(
            "Bildadressen pekar på en intern eller privat adress och tillåts inte.",
            fields={field: "otillåten adress"},
        )
    return value
