"""The base of every Plan record: frozen, and no field the schema does not name."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PlanModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
