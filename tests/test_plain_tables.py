"""Off a terminal, tables are written without Rich (issue 10.8: Rich's import is a third of a
simple command's start-up) and must read exactly as Rich printed them there before: box ASCII2,
every column as wide as its widest line, nothing wrapped or cut, stored text never markup."""

from __future__ import annotations

import io
import string
from operator import itemgetter

from hypothesis import given, settings
from hypothesis import strategies as st
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from billing_cli.cli.output import (
    AMOUNT,
    CODE,
    ID,
    NUMBER,
    TEXT,
    Column,
    _group_cells,
    literal,
    plain_table,
)


def rich_table(columns: list[Column], rows: list[dict], title: str | None) -> str:
    """What `print_table` printed off a terminal before it stopped importing Rich there."""
    out = io.StringIO()
    console = Console(file=out, width=100_000, no_color=True, highlight=False, emoji=False,
                      markup=False, soft_wrap=True, force_terminal=False)  # fmt: skip
    table = Table(title=None if title is None else Text(literal(title)), box=box.ASCII2)
    for c in columns:
        table.add_column(
            Text(c.header),
            justify="right" if c.kind in (AMOUNT, NUMBER) else "left",
            no_wrap=True,
            overflow="ignore",
        )
    for row in rows:
        table.add_row(*(Text("\n".join(_group_cells([c], row))) for c in columns))
    console.print(table)
    return out.getvalue()


_TEXT = st.text(alphabet=st.sampled_from(string.printable + "äé€日本\x1b\t[]/"), max_size=12)
_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12), _TEXT,
    st.tuples(_TEXT, _TEXT), st.dictionaries(_TEXT, _TEXT, max_size=2),
)  # fmt: skip


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Column], list[dict], str | None]:
    kinds = draw(st.lists(st.sampled_from([TEXT, ID, AMOUNT, NUMBER, CODE]), min_size=1,
                          max_size=5))  # fmt: skip
    headers = draw(st.lists(st.text(string.ascii_lowercase + "_ ", min_size=1, max_size=10),
                            min_size=len(kinds), max_size=len(kinds)))  # fmt: skip
    columns = [Column(h, itemgetter(i), k)
               for i, (h, k) in enumerate(zip(headers, kinds, strict=True))]  # fmt: skip
    rows = draw(st.lists(st.lists(_VALUE, min_size=len(kinds), max_size=len(kinds)),
                         max_size=4))  # fmt: skip
    title = draw(st.one_of(st.none(), _TEXT))
    return columns, [dict(enumerate(r)) for r in rows], title


@settings(max_examples=300, deadline=None)
@given(tables())
def test_plain_tables_read_as_rich_printed_them(table: tuple) -> None:
    columns, rows, title = table
    assert plain_table(columns, rows, title) == rich_table(columns, rows, title)
