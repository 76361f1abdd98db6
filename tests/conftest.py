"""Shared fixtures: the test oracles module and the backends usable here."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
