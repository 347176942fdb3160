"""The opportunity statuses and types the build derives and the /opportunities page filters on."""

CLOSING_SOON_DAYS = 14
PLANNED, OPEN, CLOSING, CLOSED, NO_DATES = "planned", "open", "closing within 14 days", "closed", "dates not published"
STATUSES = [CLOSING, OPEN, PLANNED, CLOSED, NO_DATES]
CURRENT = (CLOSING, OPEN, PLANNED)  # "open and upcoming"
TYPES = ["grant call", "tender", "market engagement", "planned procurement"]
WHOLE_LONDON = ("london-wide", "national")
