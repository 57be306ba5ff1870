"""The benches import their helpers (``_loadgen``, ``_database``) as siblings, as when run as
scripts (``python bench/pay.py``): pytest gets the same path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
