"""etbuilder: a declarative, no-code transfer-learning application builder for NLP."""

__version__ = "0.1.0"
