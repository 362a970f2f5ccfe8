"""The backbone zoo: aliases, resolution to a local folder, sizes from config files (no torch)."""

from etbuilder.zoo.fetch import ensure_weights
from etbuilder.zoo.listing import ZooStatus, list_zoo
from etbuilder.zoo.registry import ZOO, ZooEntry, find_entry
from etbuilder.zoo.resolve import resolve_backbone
from etbuilder.zoo.tokenizer import load_tokenizer, token_lengths

__all__ = [
    "ZOO",
    "ZooEntry",
    "ZooStatus",
    "ensure_weights",
    "find_entry",
    "list_zoo",
    "load_tokenizer",
    "resolve_backbone",
    "token_lengths",
]
