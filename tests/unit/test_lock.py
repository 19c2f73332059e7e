"""The lock is the truth: uv.lock answers pyproject.toml, and the bootstrap file comes from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# `make` installs uv into the venv from the lock; a venv made some other way may lack it.
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
pytestmark = pytest.mark.skipif(UV is None, reason="uv is not installed (make installs it)")


def uv(*args: str) -> subprocess.CompletedProcess[str]:
    """Run uv on the project without the network: the lock alone must answer."""
    assert UV is not None
    env = {**os.environ, "UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never"}
    return subprocess.run(
        [UV, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=60
    )


def test_the_lock_holds_what_pyproject_asks_for() -> None:
    checked = uv("lock", "--check")
    assert checked.returncode == 0, f"run 'make lock': {checked.stderr}"


def test_the_bootstrap_requirements_are_the_locks_venv_group_with_hashes() -> None:
    exported = uv(
        "export",
        "--locked",
        "--only-group",
        "venv",
        "--no-emit-project",
        "--no-header",
        "--format",
        "requirements.txt",
    )
    assert exported.returncode == 0, exported.stderr
    committed = (ROOT / "requirements/bootstrap.txt").read_text(encoding="utf-8")
    assert committed == exported.stdout, "run 'make lock' to export it again"
    pins = [line for line in committed.splitlines() if "==" in line]
    assert {line.split("==")[0] for line in pins} >= {"pip", "setuptools", "wheel", "uv"}
    assert all(line.endswith("\\") for line in pins)  # each pin is followed by its hashes
