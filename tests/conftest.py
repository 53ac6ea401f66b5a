import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Known-bad and known-good variants import pieces of the reference solution.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
