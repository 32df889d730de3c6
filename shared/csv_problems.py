"""What went wrong in a CSV file, said so a person can fix it.

Both readers (backfill on the producer side, training on the worker side) parse in strict mode:
the lenient default reads an unclosed quote as one cell running to the end of the file, so
every row after it vanished into one ticket body or training text without a word.
"""

from __future__ import annotations

import csv


def csv_problem(err: csv.Error, start: int, end: int) -> str:
    """Why the record starting on line ``start`` failed; ``end`` is where the reader stopped."""
    if "unexpected end of data" in str(err):
        return (
            f"a quoted cell opened here is never closed, so lines {start}-{end} (the rest of "
            "the file) could not be read; close the quote (a quote inside a quoted cell is "
            'written "") and run again'
        )
    return f"not valid CSV: {err}"
