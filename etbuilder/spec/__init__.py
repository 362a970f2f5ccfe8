"""The spec language: what a user writes, as frozen pydantic models."""

from etbuilder.spec.spec import SPEC_VERSIONS, Spec

__all__ = ["SPEC_VERSIONS", "Spec"]
