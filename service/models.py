"""Imports every domain's models so that ``Base.metadata`` is complete (Alembic, tests)."""

from service.calendar.models import CalendarItem
from service.core.models import AuditEntry, HttpSession, KeyValue, RateCounter
from service.db import Base
from service.delivery.models import BounceEvent, Delivery, WorkerHeartbeat
from service.editor.models import ApiToken, Editor, PasswordLink
from service.events.models import Event, EventConsentText, Registration
from service.issues.models import Block, Issue, IssueList
from service.mail.models import QueuedMail
from service.media.models import MediaFile
from subscribers.models import (
    ActionToken,
    ConsentEvent,
    ConsentText,
    MailingList,
    Subscriber,
    Subscription,
    Suppression,
)

__all__ = [
    "ActionToken",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Block",
    "BounceEvent",
    "CalendarItem",
    "ConsentEvent",
    "ConsentText",
    "Delivery",
    "Editor",
    "Event",
    "EventConsentText",
    "HttpSession",
    "Issue",
    "IssueList",
    "KeyValue",
    "MailingList",
    "MediaFile",
    "PasswordLink",
    "QueuedMail",
    "RateCounter",
    "Registration",
    "Subscriber",
    "Subscription",
    "Suppression",
    "WorkerHeartbeat",
]
