"""Public archive pages, RSS 2.0 and Atom feeds, the calendar page and iCalendar feeds."""
