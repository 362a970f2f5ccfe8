"""CoNLL token files: `token<TAB>tag` per line, a blank line between sentences."""

from __future__ import annotations

from etbuilder.data._text import decode, read_bytes, split_lines
from etbuilder.data.table import Table
from etbuilder.errors import DataError
from etbuilder.plan import SplitSource

CONLL_COLUMNS = ("tokens", "tags")
"""Column names of a CoNLL table (the NER task's defaults); `columns:` renames them."""

DOCSTART = "-DOCSTART-"


def _fields(line: str) -> list[str]:
    """Tab-separated when the line has a tab (tokens may then hold spaces), else whitespace."""
    if "\t" in line:
        return [f for f in (part.strip() for part in line.split("\t")) if f]
    return line.split()


def read_conll(source: SplitSource) -> Table:
    """One row per sentence: a list of tokens and a list of tags (the last field of a line)."""
    path = source.path
    names = list(source.columns) if source.columns else list(CONLL_COLUMNS)
    if len(names) != 2:
        raise DataError(
            f"a CoNLL file has 2 columns (tokens, tags), `columns` names {len(names)}",
            file=path,
            hint="give two names, e.g. `columns: [tokens, tags]`",
        )
    text = decode(read_bytes(path), source.encoding, path)
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    lines: list[int] = []
    sent_tokens: list[str] = []
    sent_tags: list[str] = []
    start = 0
    limit = source.max_rows

    def close() -> None:
        if sent_tokens:
            tokens.append(list(sent_tokens))
            tags.append(list(sent_tags))
            lines.append(start)
            sent_tokens.clear()
            sent_tags.clear()

    for number, line in enumerate(split_lines(text), 1):
        if limit is not None and len(tokens) >= limit:
            break
        if not line.strip():
            close()
            continue
        fields = _fields(line)
        if fields[0] == DOCSTART:
            close()
            continue
        if len(fields) < 2:
            raise DataError(
                f"token {fields[0]!r} has no tag",
                file=path,
                row=number,
                hint="each line needs `token<TAB>tag`; sentences are separated by a blank line",
            )
        if not sent_tokens:
            start = number
        sent_tokens.append(fields[0])
        sent_tags.append(fields[-1])
    if limit is None or len(tokens) < limit:
        close()
    if not tokens:
        raise DataError("the file holds no sentences", file=path)
    return Table(names, {names[0]: tokens, names[1]: tags}, lines, path)
