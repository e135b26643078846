"""Fixtures for the device tests; the guest side lives in virtio_harness.py beside this."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
