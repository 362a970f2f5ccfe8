"""Spec -> Plan: an ordered list of small pure passes (no torch)."""

from etbuilder.compiler.pipeline import PASSES, compile_spec

__all__ = ["PASSES", "compile_spec"]
