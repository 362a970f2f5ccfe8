"""The spec language: what a user writes, as frozen pydantic models, and its loader."""

from etbuilder.spec.loader import load_spec, load_spec_text
from etbuilder.spec.spec import SPEC_VERSIONS, Spec

__all__ = ["SPEC_VERSIONS", "Spec", "load_spec", "load_spec_text"]
