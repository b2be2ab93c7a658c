"""The value types config is written in: Secret (a redacted secret, from ${ENV_VAR}) and
Duration (15s, 2m, 1h); the `${VAR}` reference form; `clip` for values quoted in errors.
"""

from __future__ import annotations

import math
import re
import typing

from kafkaops.core.errors import ConfigError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Secret:
    """A secret value from config. Never shown: str() and repr() give a redaction mark.

    A `${VAR}` whose variable is unset does not fail the whole config (you may run
    `kafkaops topics` without a Slack token); it fails when the secret is used.
    """

    __slots__ = ("_value", "_missing_var", "_path")

    def __init__(
        self, value: str | None, *, missing_var: str | None = None, path: str = ""
    ) -> None:
        self._value = value
        self._missing_var = missing_var
        self._path = path

    @property
    def is_set(self) -> bool:
        return self._value is not None and self._value != ""

    def reveal(self) -> str:
        """The secret itself. Raises ConfigError if its environment variable was not set."""
        if self._value is None:
            raise ConfigError(
                f"{self._path}: environment variable {self._missing_var} is not set "
                f"(the config refers to it as ${{{self._missing_var}}})"
            )
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')" if self.is_set else "Secret(<unset>)"

    def __str__(self) -> str:
        return "***" if self.is_set else "<unset>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and self._value == other._value

    def __hash__(self) -> int:
        return hash(self._value)


class Duration(float):
    """Seconds, written in config as `15s`, `2m`, `1h`, `1d`, `500ms` or a bare number;
    finite, not negative, at most 10 years."""

    _UNITS: typing.ClassVar[dict[str, float]] = {
        "ms": 0.001,
        "s": 1.0,
        "m": 60.0,
        "h": 3600.0,
        "d": 86400.0,
        "": 1.0,
    }
    _FORM: typing.ClassVar[re.Pattern[str]] = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|)\s*$")
    MAX: typing.ClassVar[float] = 3650 * 86400.0

    @classmethod
    def parse(cls, text: object) -> Duration:
        problem = "a duration such as 15s, 2m or 1h"
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            raise ValueError(problem)
        try:
            if isinstance(text, str):
                m = cls._FORM.match(text)
                if not m or len(m.group(1)) > 20:
                    raise ValueError(problem)
                value = float(m.group(1)) * cls._UNITS[m.group(2)]
            else:
                value = float(text)
        except OverflowError:  # an integer of thousands of digits
            raise ValueError(problem) from None
        if not math.isfinite(value) or not 0 <= value <= cls.MAX:
            raise ValueError(problem)
        return cls(value)



def clip(text: str, limit: int = 80) -> str:
    """A value as quoted in an error: at most `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
