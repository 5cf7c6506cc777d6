"""One row of `newsletter check`: what was checked, how it went, and the detail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail", "skip"]
STYLE = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "dim"}


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
