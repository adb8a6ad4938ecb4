"""Runs the Python module's tests with pytest (ctest's python:* tests); exits 77 (skipped) when
pytest or numpy is not installed for this interpreter. Arguments go to pytest."""
import os
import sys

try:
    import numpy  # noqa: F401
    import pytest
except ImportError as e:
    print(f"dualcam-test-skipped: {e} (install python3-pytest and python3-numpy)")
    sys.exit(77)

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", os.path.dirname(os.path.abspath(__file__)), *sys.argv[1:]]))
