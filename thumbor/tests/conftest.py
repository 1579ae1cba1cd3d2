"""The origin's modules sit beside thumbor.conf, which puts their directory on PYTHONPATH."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
