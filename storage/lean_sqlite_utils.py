"""sqlite_utils, imported without numpy: a third of every command's start-up.

sqlite_utils imports numpy (and pandas) when it can, only to map their scalar types to
column types when it creates tables from Python values. newsbot never does (its schema is
SQL, its writes are statements), yet every `newsbot` command paid about 0.15 s of CPU for
numpy's import before doing anything. While sqlite_utils is imported, numpy is hidden
(an entry of None in sys.modules makes `import numpy` raise ImportError); it is importable
again straight after, for matplotlib (bot/services/report_chart.py). If numpy is already
loaded, sqlite_utils gets it as usual.
"""

from __future__ import annotations

import sys

if "sqlite_utils" in sys.modules or "numpy" in sys.modules:
    import sqlite_utils
else:
    sys.modules["numpy"] = None  # type: ignore[assignment]
    try:
        import sqlite_utils
    finally:
        del sys.modules["numpy"]

__all__ = ["sqlite_utils"]
