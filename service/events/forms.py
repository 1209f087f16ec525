"""What editors and visitors submit, and its validation (Swedish field errors).

:func:`check_settings` validates an editor's registration settings, :func:`check_form`
a visitor's registration against the event's fields and questions. Both collect every
error before raising one :class:`~service.errors.ValidationFailed`, and neither writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.core.addresses import normalise_address
from service.core.text import MULTI_LINE_MESSAGE, SINGLE_LINE_MESSAGE, has_control_chars
from service.errors import ValidationFailed
from service.events.messages import MESSAGES

OPTIONAL_FIELDS = ("organisation", "role", "phone", "needs")
QUESTION_KINDS = ("text", "one", "many")
MAX_QUESTIONS = 5
MAX_OPTIONS = 20
MAX_NAME = 200  # name, organisation, role
MAX_PHONE = 40
MAX_NEEDS = 1000
MAX_ANSWER = 500
MAX_LABEL = 200
MAX_OPTION = 100
MAX_CONSENT = 2000
MAX_CAPACITY = 100_000
MAX_RETENTION_DAYS = 365
MAX_REMINDER_DAYS = 30
MAX_OFFER_HOURS = 24 * 30
MAX_INFO_SUBJECT = 200
MAX_INFO_BODY = 10_000
_PHONE = re.compile(r"^[0-9+()\- ]{5,40}$")

DEFAULT_CONSENT = (
    "Jag godkänner att förbundet behandlar uppgifterna jag lämnar för att administrera "
    "evenemanget. De raderas {days} dagar efter evenemanget."
)


@dataclass
class Question:
    """An editor-defined question: short text, one choice or several choices."""

    label: str
    kind: str = "text"  # "text", "one", "many"
    options: list[str] = field(default_factory=list)
    required: bool = False
    key: str = ""  # stable id of the question (answers are stored by it); set if empty


@dataclass
class RegistrationSettings:
    """An editor's settings for registration to one calendar item.

    ``closes_at`` None: the item's registration deadline (end of that day, Stockholm
    time) closes registration, or else the event's start. ``capacity`` None: unlimited.
    ``offer_hours`` None: the first on the waitlist gets a freed seat at once; else they
    are offered it and have that many hours to accept.
    """

    capacity: int | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    waitlist: bool = True
    fields: list[str] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    consent_text: str = ""  # empty: DEFAULT_CONSENT
    retention_days: int = 30
    reminder_days: int = 2
    offer_hours: int | None = None


@dataclass
class RegistrationForm:
    """What the registration form posted (raw values), kept to re-show it on errors.

    ``answers`` maps a question's key to a string (text, one choice) or a list of
    strings (several choices).
    """

    email: str = ""
    name: str = ""
    organisation: str = ""
    role: str = ""
    phone: str = ""
    needs: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    consent: bool = False  # the box under the consent text was ticked
    consent_text_id: str = ""  # the version the form showed
    newsletter: bool = False  # "also subscribe to the newsletter" (its own double opt-in)
    honeypot: str = ""


@dataclass(frozen=True)
class CleanRegistration:
    email: str
    name: str
    organisation: str
    role: str
    phone: str
    needs: str
    answers: dict[str, Any]
    newsletter: bool


def _line(value: str | None, key: str, limit: int, errors: dict[str, str]) -> str:
    text = (value or "").strip()
    if has_control_chars(text):
        errors[key] = SINGLE_LINE_MESSAGE
    elif len(text) > limit:
        errors[key] = MESSAGES["too_long"].format(max=limit)
    return text


def _multiline(value: str | None, key: str, limit: int, errors: dict[str, str]) -> str:
    text = (value or "").strip()
    if has_control_chars(text, multiline=True):
        errors[key] = MULTI_LINE_MESSAGE
    elif len(text) > limit:
        errors[key] = MESSAGES["too_long"].format(max=limit)
    return text


def _whole(value: int | None, key: str, low: int, high: int, errors: dict[str, str]) -> None:
    if value is not None and not low <= value <= high:
        errors[key] = f"Ange ett heltal från {low} till {high}."


def check_settings(cfg: RegistrationSettings, *, seats_taken: int = 0) -> list[dict[str, Any]]:
    """Validate ``cfg``; returns its questions as stored (with keys). ValidationFailed."""
    errors: dict[str, str] = {}
    _whole(cfg.capacity, "capacity", 1, MAX_CAPACITY, errors)
    if cfg.capacity is not None and "capacity" not in errors and cfg.capacity < seats_taken:
        errors["capacity"] = MESSAGES["capacity_below"].format(taken=seats_taken)
    _whole(cfg.retention_days, "retention_days", 1, MAX_RETENTION_DAYS, errors)
    _whole(cfg.reminder_days, "reminder_days", 0, MAX_REMINDER_DAYS, errors)
    _whole(cfg.offer_hours, "offer_hours", 1, MAX_OFFER_HOURS, errors)
    for key, moment in (("opens_at", cfg.opens_at), ("closes_at", cfg.closes_at)):
        if moment is not None and moment.tzinfo is None:
            errors[key] = "Tiden saknar tidszon."
    if (
        cfg.opens_at is not None
        and cfg.closes_at is not None
        and not errors.keys() & {"opens_at", "closes_at"}
        and cfg.closes_at <= cfg.opens_at
    ):
        errors["closes_at"] = "Anmälan måste stänga efter att den öppnar."
    unknown = [f for f in cfg.fields if f not in OPTIONAL_FIELDS]
    if unknown:
        errors["fields"] = "Okänt fält: " + ", ".join(unknown[:3])
    consent = _multiline(cfg.consent_text, "consent_text", MAX_CONSENT, errors)
    del consent
    if len(cfg.questions) > MAX_QUESTIONS:
        errors["questions"] = f"Högst {MAX_QUESTIONS} egna frågor."
    stored: list[dict[str, Any]] = []
    keys: set[str] = set()
    for n, q in enumerate(cfg.questions[:MAX_QUESTIONS], start=1):
        prefix = f"questions.{n}"
        label = _line(q.label, f"{prefix}.label", MAX_LABEL, errors)
        if not label and f"{prefix}.label" not in errors:
            errors[f"{prefix}.label"] = "Skriv frågan."
        if q.kind not in QUESTION_KINDS:
            errors[f"{prefix}.kind"] = "Välj fritext, ett val eller flera val."
        options: list[str] = []
        for option in q.options:
            text = _line(option, f"{prefix}.options", MAX_OPTION, errors)
            if text and text not in options:
                options.append(text)
        if q.kind in ("one", "many") and not 2 <= len(options) <= MAX_OPTIONS:
            errors.setdefault(
                f"{prefix}.options", f"Ange mellan 2 och {MAX_OPTIONS} olika alternativ."
            )
        if q.kind == "text" and options:
            errors[f"{prefix}.options"] = "En fritextfråga har inga alternativ."
        key = (q.key or f"q{n}").strip()
        if not re.fullmatch(r"[a-z0-9_-]{1,32}", key) or key in keys:
            errors[f"{prefix}.key"] = "Frågans nyckel måste vara unik (a–z, 0–9)."
        keys.add(key)
        stored.append(
            {
                "key": key,
                "label": label,
                "kind": q.kind,
                "options": options,
                "required": bool(q.required),
            }
        )
    if errors:
        raise ValidationFailed(MESSAGES["settings_invalid"], fields=errors)
    return stored


def _answer(q: dict[str, Any], raw: Any, errors: dict[str, str]) -> Any:
    key = f"answers.{q['key']}"
    kind = q["kind"]
    if kind == "many":
        values = raw if isinstance(raw, list) else ([] if raw in (None, "") else [raw])
        chosen: list[str] = []
        for value in values:
            if not isinstance(value, str) or value not in q["options"]:
                errors[key] = MESSAGES["bad_choice"]
                return []
            if value not in chosen:
                chosen.append(value)
        if q["required"] and not chosen:
            errors[key] = MESSAGES["required"]
        return chosen
    if isinstance(raw, list):
        if kind == "one" and len(raw) > 1:
            errors[key] = MESSAGES["one_choice"]
            return ""
        raw = raw[0] if raw else ""
    if raw is not None and not isinstance(raw, str):
        errors[key] = MESSAGES["bad_choice"] if kind == "one" else MESSAGES["required"]
        return ""
    value = _line(raw, key, MAX_ANSWER, errors)
    if key in errors:
        return ""
    if kind == "one" and value and value not in q["options"]:
        errors[key] = MESSAGES["bad_choice"]
    elif q["required"] and not value:
        errors[key] = MESSAGES["required"]
    return value


def check_form(
    form: RegistrationForm, asked: list[str], questions: list[dict[str, Any]]
) -> CleanRegistration:
    """Validate a visitor's registration; ValidationFailed with every bad field."""
    errors: dict[str, str] = {}
    email = ""
    try:
        email = normalise_address(form.email, field="email")
    except ValidationFailed as exc:
        errors.update(exc.fields)
    name = _line(form.name, "name", MAX_NAME, errors)
    if not name and "name" not in errors:
        errors["name"] = MESSAGES["name_required"]
    values = {
        "organisation": _line(form.organisation, "organisation", MAX_NAME, errors),
        "role": _line(form.role, "role", MAX_NAME, errors),
        "phone": _line(form.phone, "phone", MAX_PHONE, errors),
        "needs": _multiline(form.needs, "needs", MAX_NEEDS, errors),
    }
    if values["phone"] and "phone" not in errors and not _PHONE.match(values["phone"]):
        errors["phone"] = MESSAGES["bad_phone"]
    for key in OPTIONAL_FIELDS:  # a field the event does not ask for is not kept
        if key not in asked:
            values[key] = ""
            errors.pop(key, None)
    answers = {q["key"]: _answer(q, form.answers.get(q["key"]), errors) for q in questions}
    if not form.consent:
        errors["consent"] = MESSAGES["consent_required"]
    if errors:
        raise ValidationFailed(MESSAGES["form_invalid"], fields=errors)
    return CleanRegistration(
        email=email,
        name=name,
        answers=answers,
        newsletter=bool(form.newsletter),
        **values,
    )


def check_info(subject: str, body: str) -> tuple[str, str]:
    """An information mail's subject (one line) and body; ValidationFailed."""
    errors: dict[str, str] = {}
    subject = _line(subject, "subject", MAX_INFO_SUBJECT, errors)
    body = _multiline(body, "body", MAX_INFO_BODY, errors)
    if not subject and "subject" not in errors:
        errors["subject"] = MESSAGES["info_subject"]
    if not body and "body" not in errors:
        errors["body"] = MESSAGES["info_body"]
    if errors:
        raise ValidationFailed(MESSAGES["form_invalid"], fields=errors)
    return subject, body
