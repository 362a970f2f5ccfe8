"""The one base class every spec model derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SpecModel(BaseModel):
    """Frozen, strict about unknown keys, documented by attribute docstrings."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )


NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
"""A name: letters, digits, `.`, `_` and `-`, starting with a letter or digit."""

DURATION_PATTERN = r"^\d+(\.\d+)?\s*(s|m|h)$"
"""A duration such as `90s`, `10m` or `1.5h`."""


def parse_duration(text: str) -> float:
    """Seconds in a duration string that matched `DURATION_PATTERN`."""
    text = text.strip()
    unit = text[-1]
    value = float(text[:-1].strip())
    return value * {"s": 1.0, "m": 60.0, "h": 3600.0}[unit]
