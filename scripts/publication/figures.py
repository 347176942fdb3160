"""Is a row's figure in its source's own words? The numbers a short excerpt states, in the usual written forms.

"£1.5m", "£1.5 million", "1.5m", "£1,500,000", "1500000", "£150k", "£150,000.00", "£2bn", "80%", "nearly 800":
each mention is read as a number (with its multiplier), and a figure is in the excerpt when one mention equals it
to the penny. Nothing is rounded: £1.5m does not state 1,512,000.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

MULTIPLIERS = {
    "k": 1_000, "thousand": 1_000,
    "m": 1_000_000, "mn": 1_000_000, "million": 1_000_000, "millions": 1_000_000,
    "bn": 1_000_000_000, "billion": 1_000_000_000,
}
# A number: digits, with or without thousands commas (1,500,000; a source's misplaced comma, "4,292000", is read
# as written, without the comma) or thousands spaces as tender notices print them ("£170 000", "450 000.00 GBP"),
# an optional decimal part, then an optional multiplier word stuck to it or after one space ("£1.5m",
# "1.5 million"). Digits inside words are not numbers.
MENTION = re.compile(
    r"(?<![\w.,])(\d{1,3}(?: \d{3})+(?![\d,])|\d(?:[\d,]*\d)?)(\.\d+)?"
    r"(?:\s?(k|thousand|mn|m|millions|million|bn|billion)\b)?",
    re.IGNORECASE,
)


# Some stored pages render the pound sign as "PS" ("PS41,860,000"): read it as the pound sign it stands for.
POUND_AS_PS = re.compile(r"\bPS(?=\d)")


def stated_numbers(text: str) -> set[Decimal]:
    """Every number the text states, multipliers applied."""
    found = set()
    for whole, decimals, word in MENTION.findall(POUND_AS_PS.sub("£", text or "")):
        try:
            number = Decimal(whole.replace(",", "").replace(" ", "") + (decimals or ""))
        except InvalidOperation:  # pragma: no cover - the pattern only matches digits
            continue
        found.add(number)
        if word:
            found.add(number * MULTIPLIERS[word.lower()])
    return found


def figure_stated(value, text: str) -> bool:
    """True when `value` (int, float or Decimal) is one of the numbers stated in `text`, to the penny."""
    if value is None:
        return True
    target = Decimal(str(value)).quantize(Decimal("0.01"))
    return any(n.quantize(Decimal("0.01")) == target for n in stated_numbers(text))


def written_forms(value) -> str:
    """How the figure could be written, for the error message."""
    number = Decimal(str(value))
    number = number.quantize(Decimal(1)) if number == number.to_integral_value() else number
    forms = [f"{number:,}"]
    if number >= 1_000_000 and number % 1_000 == 0:
        forms.append(f"£{(number / 1_000_000).normalize():f}m")
    elif number >= 1_000 and number % 100 == 0:
        forms.append(f"£{(number / 1_000).normalize():f}k")
    return " or ".join(forms)
