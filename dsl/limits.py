"""The language's size limits: what any text may demand of the front end.

Each limit keeps a later stage within what it can do on any input, and each has its
own diagnostic code (docs/diagnostics.md, docs/language.md § Limits):

- E003 `MAX_NESTING`: brackets `( [ {` open at once, and the depth of a condition's
  tree. The stages after the parser (checker, formatter, engine, delivery) walk trees
  recursively; at 100 levels they stay far below Python's recursion limit. Long `and`
  / `or` chains are kept balanced by the parser, so they nest only log2(terms) deep.
- E004 `MAX_NUMBER_CHARS` and the range of a 64-bit float: `int()` of thousands of
  digits is refused by Python, and a number beyond a double's range would become
  `inf` in comparisons and in the formatter's output.
- E005 `MAX_DURATION_SECONDS` (ten years): every duration is added to a time stamp
  somewhere, and datetimes end in the year 9999.
- E006 `MAX_TEXT_CHARS`: parsing is linear, but a rule file is read whole at every
  reload; two million characters is about 20,000 monitors.
"""

from __future__ import annotations

import sys

MAX_NESTING = 100
MAX_NUMBER_CHARS = 400
MAX_NUMBER = sys.float_info.max
MAX_DURATION_SECONDS = 3650 * 86400
MAX_TEXT_CHARS = 2_000_000
