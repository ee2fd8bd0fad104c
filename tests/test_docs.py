"""Every ```python block of the user docs runs.

The blocks of one page run in order in one namespace (a later block may use what an earlier one
defined), on a fresh default graph, in a temporary working directory; a failure names the page,
the block's number and its first line.
"""

import re
from pathlib import Path

import pytest

import graphnet as gn

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOT_USER_DOCS = {"architecture.md"}  # the developers' map: its code blocks are diagrams
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
USER_PAGES = sorted(p for p in DOCS.glob("*.md") if p.name not in NOT_USER_DOCS)


def python_blocks(markdown: str) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown text: (line number of the code's first line, code)."""
    return [(markdown.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in FENCE.finditer(markdown)]


def test_python_blocks_are_found_with_their_lines():
    text = "# t\n```python\na = 1\n```\n\n```bash\nls\n```\n```python\nb = a + 1\nc = 2\n```\n"
    assert python_blocks(text) == [(3, "a = 1\n"), (10, "b = a + 1\nc = 2\n")]


def test_the_user_pages_are_there_and_show_code():
    names = {p.stem for p in USER_PAGES}
    assert {"getting_started", "tf1_api", "keras", "training", "data"} <= names
    for page in USER_PAGES:
        assert python_blocks(page.read_text()), f"{page.name} has no python block"


def test_links_between_pages_resolve():
    for page in USER_PAGES:
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text()):
            assert (DOCS / target).is_file(), f"{page.name} links to missing {target}"


@pytest.mark.parametrize("page", USER_PAGES, ids=lambda p: p.name)
def test_every_python_block_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    gn.reset_default_graph()
    gn.keras.backend.clear_session()
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for number, (line, code) in enumerate(python_blocks(page.read_text()), 1):
        where = f"{page.name}, block {number} (line {line})"
        try:
            exec(compile(code, where, "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{where} failed: {type(exc).__name__}: {exc}") from exc
