"""Demo data of the subscribers domain: two more lists and a handful of confirmed
subscribers at fictitious addresses (``*.example``), with ledger rows. Idempotent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.settings import Settings
from subscribers.lists import create_list, list_by_slug
from subscribers.people import find_by_address
from subscribers.signup import add_confirmed

DEMO_LISTS = (
    (
        "kalendarium",
        "Kalendarium",
        "Utbildningar, konferenser och träffar inom samverkan i Halland.",
        False,
    ),
    (
        "ledningsgrupper",
        "Ledningsgrupper",
        "Information till förbundets ledningsgrupper och beredningsgrupp.",
        True,
    ),
)

DEMO_SUBSCRIBERS = (
    (
        "anna.andersson@halmstad.example",
        "Anna Andersson",
        "Halmstads kommun",
        "Handläggare",
        ("nyhetsbrev", "kalendarium"),
    ),
    (
        "erik.nilsson@regionhalland.example",
        "Erik Nilsson",
        "Region Halland",
        "Samordnare",
        ("nyhetsbrev",),
    ),
    (
        "maria.larsson@forsakringskassan.example",
        "Maria Larsson",
        "Försäkringskassan",
        "Enhetschef",
        ("nyhetsbrev", "ledningsgrupper"),
    ),
    (
        "johan.berg@arbetsformedlingen.example",
        "Johan Berg",
        "Arbetsförmedlingen",
        "Sektionschef",
        ("nyhetsbrev", "kalendarium", "ledningsgrupper"),
    ),
    (
        "lena.holm@varberg.example",
        "Lena Holm",
        "Varbergs kommun",
        "Socialsekreterare",
        ("kalendarium",),
    ),
    ("per.ek@exempelforetaget.example", "", "Annan", "", ("nyhetsbrev",)),
)


async def load(session: AsyncSession, settings: Settings) -> list[str]:
    messages: list[str] = []
    for slug, name, description, hidden in DEMO_LISTS:
        if await list_by_slug(session, slug) is None:
            await create_list(session, slug, name, description=description, hidden=hidden)
            messages.append(f"Lista skapad: {name} ({slug}{', dold' if hidden else ''})")
    added = 0
    for email, person, organisation, role, slugs in DEMO_SUBSCRIBERS:
        if await find_by_address(session, email) is not None:
            continue
        lists = [lst for s in slugs if (lst := await list_by_slug(session, s)) is not None]
        await add_confirmed(
            session,
            email=email,
            lists=lists,
            name=person,
            organisation=organisation,
            role=role,
            source="import",
            lawful_basis="consent",
            detail={"note": "demodata"},
        )
        added += 1
    if added:
        messages.append(f"Demoprenumeranter tillagda: {added}")
    return messages
