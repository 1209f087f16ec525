"""Demo issues: the August 2019 newsletter rebuilt from blocks (sent, in the archive) and
a draft for next month, which opens with an intro (the 2019 issue has none: it starts
straight with its first article). Idempotent (by slug). The two article images are small PNGs
generated here and stored in ``settings.media_dir`` like uploaded media."""

from __future__ import annotations

import hashlib
import struct
import zlib
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.demo import AUGUST_2019_UIDS, KALENDARIUM
from service.calendar.models import CalendarItem
from service.core.dates import MONTHS, STOCKHOLM
from service.db import utcnow
from service.issues.models import Block, Issue, IssueList
from service.media.models import MediaFile
from service.settings import Settings
from subscribers.models import MailingList

AUGUST_SLUG = "nyhetsbrev-augusti-2019"
SFH = "https://sfhalland.se/"


def png(width: int, height: int, pixel: Any) -> bytes:
    """A PNG (8-bit RGB) whose pixel colours come from ``pixel(x, y) -> (r, g, b)``."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows.extend(pixel(x, y))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def _relations_image(x: int, y: int) -> tuple[int, int, int]:
    # Two overlapping circles on a calm blue gradient: people close to each other.
    for cx, colour in ((250, (233, 196, 106)), (350, (244, 162, 97))):
        if (x - cx) ** 2 + (y - 150) ** 2 < 90**2:
            return colour
    return (11, 61 + y // 6, 92 + y // 5)


def _helmets_image(x: int, y: int) -> tuple[int, int, int]:
    # Three golden half-circles ("tre guldhjälmar") on a summer-sky background.
    for cx in (150, 300, 450):
        if y < 190 and (x - cx) ** 2 + (y - 190) ** 2 < 70**2:
            return (212, 175, 55)
    if y >= 190:
        return (70, 110, 60)
    return (135 + y // 8, 190 + y // 12, 235)


async def _media(session: AsyncSession, settings: Settings, original_name: str, data: bytes) -> str:
    """Store ``data`` like an upload (``<sha256>.png``) and return its ``/media/`` path."""
    digest = hashlib.sha256(data).hexdigest()
    filename = f"{digest}.png"
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    path = settings.media_dir / filename
    if not path.exists():
        path.write_bytes(data)
    if await session.scalar(select(MediaFile.id).where(MediaFile.sha256 == digest)) is None:
        session.add(
            MediaFile(
                sha256=digest,
                filename=filename,
                original_name=original_name,
                content_type="image/png",
                size=len(data),
                width=600,
                height=300,
            )
        )
    return f"/media/{filename}"


def august_2019_blocks(
    relations_src: str, helmets_src: str, calendar_ids: list[int]
) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "article",
            {
                "heading": "SF Halland är ett av sju förbund när nationellt "
                "metodutvecklingsprojekt lanseras",
                "body": (
                    "I juni fick vi det stärkande beskedet att Samordningsförbundet i Halland "
                    "är ett av sju förbund som utsetts att ingå i projektet ”Våld i nära "
                    "relationer”.\n\n"
                    "Under 2018 utlyste Nationella Nätverket för Samordningsförbund (NNS) en "
                    "intresseanmälan att ingå i ett pilotprojekt under 18 månader för att "
                    "utveckla samverkan inom våld i nära relationer. Detta är ett "
                    "regeringsuppdrag som gått genom Socialstyrelsen till NNS. Vi kommer att "
                    "utgå från Individsamverkansteamet i Varberg i projektet och det innebär "
                    "utbildning, stöd och uppföljning från nationellt håll för teamet. Syftet "
                    "är att sprida erfarenheter och slutsatser till alla Samordningsförbund i "
                    "landet.\n\n"
                    "**Första utbildningsdagen går av stapeln 26 september** för att "
                    "efterföljas av ett nationellt startskott med workshop med "
                    "jämställdhetsminister Åsa Lindhagen i oktober."
                ),
                "image": {
                    "src": relations_src,
                    "alt": "Illustration: två cirklar som överlappar varandra mot blå bakgrund",
                    "caption": "Våld i nära relationer – ett nationellt metodutvecklingsprojekt.",
                },
                "link": None,
            },
        ),
        (
            "article",
            {
                "heading": "Stor potential för kommunerna med Social hänsyn vid upphandling",
                "body": (
                    "I somras var förbundet inbjudet till Almedalsveckan för att sprida våra "
                    "erfarenheter av att jobba med social hänsyn i upphandlingar. En enkel "
                    "metod som alla vinner på enligt Carl Nyblom från Samordningsförbundet i "
                    "Halland.\n\n"
                    "— Idag ställs ofta miljökrav vid upphandlingar och på samma sätt kan man "
                    "ställa ett socialt krav för att nå sociala effekter. Det kan vara att "
                    "företagen erbjuder praktik, traineeplatser eller anställning för de som "
                    "har en lite svårare bakgrund, säger Carl Nyblom. Gensvaret från "
                    "företagens sida har varit positivt, de vill vara med och bidra. "
                    "Erfarenheten så här långt är att det inte heller påverkar priset.\n\n"
                    "Upphandlingsmyndighetens undersökning från 2018 visar att 80 procent av "
                    "kommunerna har styrdokument som säger hur man ska arbeta med social "
                    "hänsyn i upphandlingar, men det är bara 2,1 procent som aktivt gör det. "
                    "De offentliga aktörerna har duckat lite för denna fråga för att den "
                    "skulle vara komplex men genom att bygga upp lokala nätverk mellan "
                    "upphandlingsenheter och arbetsmarknadsenheter och arbetsförmedling är en "
                    "stor del av problematiken löst.\n\n"
                    "Här finns en fantastisk potential menar Carl Nyblom: — I Halland har vi "
                    "funnit ett enkelt sätt att snabbt komma igång med detta arbete. Skriv in "
                    "i upphandlingen: ”Vinnande leverantör förbinder sig att ha ett samtal "
                    "med upphandlande myndighet om hur social hänsyn kan tas.” Låt "
                    "leverantören vara med och föreslå lösningar i en dialog, ofta ser de "
                    "fler möjligheter att bidra än vad vi myndigheter gör.\n\n"
                    "# Och alla vinner på att ta social hänsyn.\n\n"
                    "— Framförallt vinner individen på det, samtidigt minskar kostnader för "
                    "t ex försörjningsstöd, skatteintäkterna ökar och vi kan hjälpa "
                    "företagarna med rekryteringsbehov. Ja, alla vinner på ett inkluderande "
                    "arbetsliv!\n\n"
                    "Rapporten ”Social hänsyn i upphandling” av Carl Nyblom för SF Halland "
                    "finns att läsa på "
                    "[www.sfhalland.se/medborgare/avslutade-projekt]"
                    "(https://www.sfhalland.se/medborgare/avslutade-projekt)."
                ),
                "image": {
                    "src": helmets_src,
                    "alt": "Tre guldhjälmar: förbundets medarbetare i Almedalen 2019",
                    "caption": "Samordningsförbundet i Halland i Almedalen 2019.",
                },
                "link": {
                    "url": "https://www.sfhalland.se/medborgare/avslutade-projekt",
                    "label": "Läs rapporten Social hänsyn i upphandling",
                },
            },
        ),
        (
            "notice",
            {
                "heading": "Noterat från Almedalen",
                "body": (
                    "Noterbart från ett seminarium med Gunnar Hagman, VD Skanska där han "
                    "lyfter fram möjligheterna med sociala kriterier i upphandlingar som "
                    "något som de som leverantörer ser mycket positivt på och att han inte "
                    "kunde förstå att offentliga aktörer inte använder det i större "
                    "utsträckning. Något att fundera på!"
                ),
            },
        ),
        (
            "cta",
            {
                "heading": "Var med och planera FINSAM-konferensen 2020!",
                "body": (
                    "Under Finsamkonferensen 2020 med temat ”Innanförskapets möjligheter” "
                    "kommer vi att tillsammans utforska Innanförskapets olika inriktningar "
                    "som inkludering, social hållbarhet och integration.\n\n"
                    "Den 24–25 mars 2020 är Samordningsförbundet i Halland den lokala "
                    "medarrangören för den årliga nationella Finsamkonferensen tillsammans "
                    "med Nationella Rådet. Det finns ett stort engagemang och en fantastisk "
                    "energi bland förbundets parter så fort detta förs på tal. Detta vill vi "
                    "ta vara på och bjuder därför in till:\n\n"
                    "**Öppen planeringsträff fredag 4 oktober kl. 10.00–12.00** i förbundets "
                    "lokaler, Storgatan 6, Halmstad.\n\n"
                    "Vi planerar också att värma upp inför konferensen genom att bjuda på ett "
                    "program för alla resande som kommer dagen innan men också till all "
                    "personal inom förbundets parter i Halland. Vi tänker en stor, varm och "
                    "trevlig dag, med olika punkter och framträdande som rör "
                    "Samordningsförbundets intresseområde mellan kl. 15.00 till kvällen den "
                    "23 mars.\n\n"
                    "Anmäl ert intresse för att vara med och påverka och komma med idéer "
                    "senast 1 oktober.\n\n"
                    "Varmt välkommen önskar Samordningsförbundet i Halland."
                ),
                "button_label": "Anmäl ert intresse",
                "button_url": KALENDARIUM,
            },
        ),
        (
            "calendar",
            {"heading": "Kalendarium", "mode": "selected", "item_ids": calendar_ids, "limit": 5},
        ),
        ("heading", {"text": "Upplyft"}),
        (
            "notice",
            {
                "heading": "",
                "body": (
                    "Har ni en idé som behöver mer än er egen myndighets insatser? Eller "
                    "kanske att det är en grupp sökande som saknar metod för hur de ska få "
                    "bästa stöd? Vi lyssnar gärna på era tankar och tar dem vidare för "
                    "utveckling om det finns ett behov i regionen."
                ),
            },
        ),
        ("heading", {"text": "Aktuellt"}),
        (
            "article",
            {
                "heading": "Samordningsförbundet i Halland lanserar Beskæftigelses Indikator "
                "Projektet (BIP)-progressionskort i Sverige",
                "body": (
                    "I vårt utvecklingsarbete med våra Individsamverkansteam har styrelsen "
                    "beslutat att vi ska översätta och införa BIP progressionskort utvecklat "
                    "och beforskat av Vaeksthusets forskningscenter i Köpenhamn med goda "
                    "resultat."
                ),
                "image": None,
                "link": {"url": SFH, "label": "Läs mer om BIP-progressionskort"},
            },
        ),
        (
            "article",
            {
                "heading": "Nyhetsbrevet ”Innanförskapet” med glädje och insikter",
                "body": (
                    "Vårt nya nyhetsbrev ”Innanförskapet” har precis skickats ut till alla "
                    "befintliga prenumeranter från vårt tidigare utskick. Nyhetsbrevet blir "
                    "vår kanal direkt in till alla er ute på enheter som arbetar för vår "
                    "sociala välfärd på ett eller annat sätt och som är intresserade av "
                    "samverkan."
                ),
                "image": None,
                "link": {"url": SFH, "label": "Läs mer om nyhetsbrevet"},
            },
        ),
    ]


def _search_text(title: str, blocks: list[tuple[str, dict[str, Any]]]) -> str:
    parts = [title]
    for _kind, data in blocks:
        parts.extend(str(data.get(key) or "") for key in ("heading", "text", "body"))
    return "\n".join(p for p in parts if p)


async def _list_id(session: AsyncSession) -> int | None:
    return await session.scalar(select(MailingList.id).where(MailingList.slug == "nyhetsbrev"))


async def _add_issue(
    session: AsyncSession, blocks: list[tuple[str, dict[str, Any]]], **fields: Any
) -> Issue:
    issue = Issue(
        blocks=[Block(position=i, kind=k, data=d) for i, (k, d) in enumerate(blocks)],
        search_text=_search_text(str(fields["title"]), blocks),
        **fields,
    )
    session.add(issue)
    await session.flush()
    list_id = await _list_id(session)
    if list_id is not None:
        session.add(IssueList(issue_id=issue.id, list_id=list_id))
        await session.flush()
    return issue


async def load(session: AsyncSession, settings: Settings) -> list[str]:
    messages: list[str] = []
    existing = set((await session.scalars(select(Issue.slug))).all())
    if AUGUST_SLUG not in existing:
        relations = await _media(
            session,
            settings,
            "Vald_i_nara_relationer_SFHalland.png",
            png(600, 300, _relations_image),
        )
        helmets = await _media(
            session,
            settings,
            "Tre_guldhjalmar_SFH_i_Almedalen2019.png",
            png(600, 300, _helmets_image),
        )
        rows = (
            await session.execute(
                select(CalendarItem.uid, CalendarItem.id).where(
                    CalendarItem.uid.in_(AUGUST_2019_UIDS)
                )
            )
        ).all()
        ids_by_uid = {str(uid): int(item_id) for uid, item_id in rows}
        calendar_ids = [ids_by_uid[uid] for uid in AUGUST_2019_UIDS if uid in ids_by_uid]
        sent = datetime(2019, 8, 28, 7, 30, tzinfo=UTC)
        await _add_issue(
            session,
            august_2019_blocks(relations, helmets, calendar_ids),
            slug=AUGUST_SLUG,
            title="Nyhetsbrev augusti 2019",
            subject="Nyhetsbrev augusti 2019: Våld i nära relationer och FINSAM 2020",
            preheader=(
                "SF Halland med i nationellt projekt om våld i nära relationer, social hänsyn "
                "vid upphandling och planering av FINSAM-konferensen 2020."
            ),
            issue_date=date(2019, 8, 28),
            status="sent",
            send_started_at=sent,
            sent_at=sent,
            web_published_at=sent,
        )
        messages.append("Nyhetsbrev: ”Nyhetsbrev augusti 2019” (skickat, i arkivet) tillagt.")

    today = utcnow().astimezone(STOCKHOLM).date()
    first = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
    month = MONTHS[first.month - 1]
    draft_slug = f"nyhetsbrev-{month}-{first.year}"
    if draft_slug not in existing:
        draft_blocks: list[tuple[str, dict[str, Any]]] = [
            (
                "intro",
                {
                    "body": (
                        "FINSAM-konferensen närmar sig, och i kalendariet hittar du månadens "
                        "träffar och utbildningar. Tipsa gärna en kollega om nyhetsbrevet!"
                    )
                },
            ),
            ("heading", {"text": "Aktuellt"}),
            (
                "article",
                {
                    "heading": "Välkommen till FINSAM-konferensen",
                    "body": (
                        "Konferensen med temat ”Innanförskapets möjligheter” närmar sig. "
                        "Här samlar vi det du behöver veta inför dagarna.\n\n"
                        "- Program och föreläsare\n- Anmälan och sista anmälningsdag\n"
                        "- Resor och boende"
                    ),
                    "image": None,
                    "link": {"url": KALENDARIUM, "label": "Läs mer"},
                },
            ),
            ("divider", {}),
            (
                "calendar",
                {"heading": "Kalendarium", "mode": "upcoming", "item_ids": [], "limit": 5},
            ),
        ]
        await _add_issue(
            session,
            draft_blocks,
            slug=draft_slug,
            title=f"Nyhetsbrev {month} {first.year}",
            subject=f"Nyhetsbrev {month} {first.year}",
            preheader="Nytt från samverkan i Halland.",
            issue_date=first,
            status="draft",
        )
        messages.append(f"Nyhetsbrev: utkastet ”Nyhetsbrev {month} {first.year}” tillagt.")
    if not messages:
        messages.append("Demonyhetsbreven finns redan.")
    return messages
