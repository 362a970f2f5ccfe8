"""Spec -> Plan: an ordered list of small pure passes (no torch)."""
