"""The composition root of personal data: which domains, beside ``subscribers``, keep
rows about a subscriber that an export (Art. 15/20) must show and an erasure (Art. 17)
or the retention purge must remove.

Each entry names a :class:`subscribers.privacy.PersonalData` holder as
``"module:attribute"``. The names are resolved when an export, erasure or retention
run happens (``subscribers.privacy.load_holders``), so importing this module imports
no domain, and the subscribers domain never imports the domains that hold data about
its people. A domain that starts storing personal data (e.g. event registrations)
adds its holder here (as ``service.events`` did for event registrations).
"""

from __future__ import annotations

HOLDERS: tuple[str, ...] = (
    "service.delivery.privacy:RECORDS",
    "service.events.privacy:RECORDS",
)
