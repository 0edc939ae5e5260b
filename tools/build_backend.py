"""livereport's build backend: setuptools, after making sure the dashboard's libraries are built.

The dashboard loads Chart.js and GridStack from ``src/livereport/web/static/vendor/``. Those
files are not committed: they come from the npm registry through ``frontend/package-lock.json``
(``npm ci``, then ``frontend/vendor.mjs`` copies their browser builds into the package). A wheel
or an sdist built from a checkout (``pip install .``, ``pip wheel .``, ``python -m build``) must
carry them, so this backend runs those two steps first when the files are missing or were made
from another lock file, and stops with a message saying what to install when npm is absent.

A source tree without ``frontend/`` is an unpacked sdist: its vendor files were built with it,
and are only checked for.

Named in pyproject.toml (``build-backend``, ``backend-path``); everything else is setuptools'.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (every hook this module does not override)

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"
LOCK = FRONTEND / "package-lock.json"
#: Written by a successful ``npm ci`` + vendor.mjs run; the same stamp as ``./dev setup``'s.
STAMP = FRONTEND / "node_modules" / ".installed-lock"
VENDOR = ROOT / "src" / "livereport" / "web" / "static" / "vendor"
#: The files the dashboard's pages load (livereport.web.pages.VENDOR_FILES).
NEEDED = ("chart.umd.min.js", "gridstack-all.js", "gridstack.min.css")


class FrontendBuildError(SystemExit):
    """Stops the build with a message for the person who ran it (no traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"\nlivereport build: {message}\n")


def _missing() -> list[str]:
    return [name for name in NEEDED if not (VENDOR / name).is_file()]


def _up_to_date() -> bool:
    if _missing():
        return False
    try:
        return STAMP.read_bytes() == LOCK.read_bytes()
    except OSError:
        return False


def _run(command: list[str]) -> None:
    print("livereport build:", " ".join(command), file=sys.stderr, flush=True)
    # Build frontends capture stdout; keep npm's and node's output on stderr with ours.
    done = subprocess.run(command, cwd=ROOT, stdout=sys.stderr, check=False)
    if done.returncode != 0:
        raise FrontendBuildError(f"{' '.join(command)} failed with exit status {done.returncode}")


def ensure_vendor() -> None:
    """Build src/livereport/web/static/vendor/ from the npm lock file unless it is current."""
    if not LOCK.is_file():
        missing = _missing()
        if missing:
            raise FrontendBuildError(
                "this source tree has no frontend/package-lock.json and no dashboard libraries "
                f"({', '.join(missing)} missing in {VENDOR.relative_to(ROOT)}); build from a "
                "clone of the repository or from a complete sdist"
            )
        return
    if _up_to_date():
        return
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise FrontendBuildError(
            "livereport's wheel and sdist carry the dashboard's browser libraries (Chart.js, "
            "GridStack), which are installed from frontend/package-lock.json with npm, and "
            f"{'npm' if npm is None else 'node'} was not found on PATH. Install Node.js and "
            "npm (Debian: apt-get install nodejs npm), or run ./dev setup, then build again."
        )
    _run(
        [
            npm,
            "ci",
            "--prefix",
            str(FRONTEND),
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]
    )
    _run([node, str(FRONTEND / "vendor.mjs")])
    missing = _missing()
    if missing:
        raise FrontendBuildError(f"frontend/vendor.mjs did not produce {', '.join(missing)}")
    shutil.copyfile(LOCK, STAMP)


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    ensure_vendor()
    return str(_setuptools.build_wheel(wheel_directory, config_settings, metadata_directory))


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    ensure_vendor()
    return str(_setuptools.build_sdist(sdist_directory, config_settings))
