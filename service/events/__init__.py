"""Event registration ("anmälan") for calendar items.

Owns: an item's registration settings (capacity, opening and closing time, waitlist,
the fields and questions asked, the versioned consent text shown on the form, how long
attendee data is kept), the registrations themselves (double opt-in by a mailed token,
the seat decided at confirmation, waitlist and offers, cancellation, check-in), the
mails about them (through the transactional mail queue, each with an .ics built by
:mod:`service.calendar.ical`), the scheduler jobs (reminders, expired offers, changed
or removed items, retention erasure) and the attendees' personal data
(:mod:`service.events.privacy`, named in ``service.personal_data.HOLDERS``).

The web layer (:mod:`service.events.handlers`) and the CLI call the functions of
:mod:`service.events.service`, which never commit (the caller owns the transaction).
"""
