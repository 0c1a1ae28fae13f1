"""Where the project's binaries are, and building them on demand.

A binary is `$<override env var>` when set, else `<target dir>/debug/<name>`, where the target dir is
`$CARGO_TARGET_DIR` (relative paths are taken from the repo root, where cargo normally runs) or
`<repo>/target`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def target_dir() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
    return target if target.is_absolute() else REPO_ROOT / target


def binary_path(name: str, override_env: str | None = None) -> Path:
    explicit = os.environ.get(override_env) if override_env else None
    return Path(explicit) if explicit else target_dir() / "debug" / name


def ensure_binary(name: str, package: str, override_env: str | None = None) -> Path:
    """The binary, built with `cargo build -p <package>` if it is missing (never when overridden)."""
    binary = binary_path(name, override_env)
    if binary.exists() or (override_env and os.environ.get(override_env)):
        return binary
    # Convenience for a fresh checkout; CI builds everything beforehand so this is normally skipped.
    subprocess.run(["cargo", "build", "-p", package], cwd=REPO_ROOT, check=True)
    return binary
