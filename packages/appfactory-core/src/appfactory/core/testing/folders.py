"""A folder where nothing can be written, for testing refusals.

As root, file permissions do not stop writes, so the folder is bind-mounted
read-only on itself (a real read-only file system); otherwise its mode is
0o500. Where neither works, the test is skipped (failed when ``CI`` is set).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest


@pytest.fixture
def read_only_folder(tmp_path: Path) -> t.Iterator[Path]:
    """An existing folder where no file can be created, not even by root."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0:
        mount = shutil.which("mount")
        commands = [
            [mount or "mount", "--bind", str(folder), str(folder)],
            [mount or "mount", "-o", "remount,bind,ro", str(folder)],
        ]
        for command in commands:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                if mounted:
                    subprocess.run(["umount", str(folder)], check=False)
                reason = f"cannot make a read-only folder as root: {done.stderr.strip()}"
                if os.environ.get("CI"):
                    pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
                pytest.skip(reason)
            mounted = True
    else:
        folder.chmod(0o500)
    try:
        yield folder
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)
        else:
            folder.chmod(0o700)
