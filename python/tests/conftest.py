# The module is imported from the build tree (ctest sets PYTHONPATH to build/python) and the CLI
# from DUALCAM_BINARY, so the tests compare the two builds of one checkout.
import os
import shutil
import subprocess

import pytest


@pytest.fixture(scope="session")
def cli():
    binary = os.environ.get("DUALCAM_BINARY") or shutil.which("dualcam")
    if not binary or not os.path.exists(binary):
        pytest.skip("the dualcam binary is needed (set DUALCAM_BINARY)")

    def run(*args, check=True):
        r = subprocess.run([binary, *map(str, args)], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"dualcam {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr}")
        return r

    return run


@pytest.fixture(scope="session")
def sample_dir(cli, tmp_path_factory):
    d = tmp_path_factory.mktemp("sample")
    cli("sample", "-o", d, "--threads", 2)
    return d


def pytest_configure(config):
    config.addinivalue_line("markers", "timing: measures wall time; ctest runs these alone (python:parallel)")
