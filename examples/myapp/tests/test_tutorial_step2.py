"""Tutorial step 2 shows the example's extension and mymodule's model as they are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import myapp.config

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "tutorial" / "step2-extensions.rst"
BLOCK = re.compile(r"^\.\. code-block:: \w+\n   :caption: (\S+)\n\n((?:   .*\n|\n)+)", re.MULTILINE)


def captioned_blocks() -> dict[str, str]:
    """``{caption: text}`` of the page's captioned code blocks, unindented."""
    if not PAGE.is_file():
        pytest.skip(f"{PAGE} is not in this checkout (installed from a wheel?)")
    blocks = {}
    for caption, body in BLOCK.findall(PAGE.read_text()):
        lines = [line[3:] for line in body.rstrip("\n").split("\n")]
        blocks[caption] = "\n".join(lines).rstrip("\n") + "\n"
    return blocks


@pytest.mark.parametrize(
    ("caption", "source"),
    [
        ("myapp/src/myexts/__init__.py", "examples/myapp/src/myexts/__init__.py"),
        ("myapp/src/myexts/sqlalchemy.py", "examples/myapp/src/myexts/sqlalchemy.py"),
        ("mymodule/src/mymodule/models.py", "packages/mymodule/src/mymodule/models.py"),
    ],
)
def test_page_shows_the_file_whole(caption: str, source: str) -> None:
    text = (ROOT / source).read_text()
    # The repository's copy carries a comment for mypy's strict mode; readers need not.
    text = text.replace("  # type: ignore[name-defined,misc]", "")
    assert captioned_blocks()[caption] == text


def test_page_lists_the_extensions_of_the_example() -> None:
    namespace: dict[str, object] = {}
    exec(captioned_blocks()["myapp/src/myapp/config.py"], namespace)
    assert namespace["EXTENSIONS"] == ["myexts.sqlalchemy"]
    assert myapp.config.EXTENSIONS[0] == "myexts.sqlalchemy"
    assert namespace["PACKAGES"] == myapp.config.PACKAGES
