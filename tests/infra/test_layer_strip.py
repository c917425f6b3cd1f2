"""Stripping the layer's native libraries: a stripped copy is kept only when the loader would map
it as it maps the original (same segments, file offsets congruent to their addresses), and a
library that fails that check or that no tool reads stays as it was."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.infra.sam import load_infra

# (offset, vaddr, filesz, memsz, flags, align) of each PT_LOAD, as a small shared library has them.
SEGMENTS = [(0, 0, 0x2A5E0, 0x2A5E0, 4, 0x1000), (0x2B000, 0x2B000, 0x786331, 0x786331, 5, 0x1000)]


def elf(segments: list[tuple[int, int, int, int, int, int]], extra: int = 0) -> bytes:
    """A 64-bit little-endian ELF header and its program headers (one PT_NOTE among the loads)."""
    phoff, phentsize = 64, 56
    headers = [(4, 4, 0x200, 0x200, 0x200, 0x20, 0x20, 4)]
    headers += [(1, flags, off, va, va, fsz, msz, al) for off, va, fsz, msz, flags, al in segments]
    head = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    head += struct.pack("<HHIQQQIHHHHHH", 3, 183, 1, 0, phoff, 0, 0, 64, phentsize, len(headers), 64, 0, 0)
    body = b"".join(struct.pack("<IIQQQQQQ", *h) for h in headers)
    return head + body + bytes(extra)


@pytest.fixture(scope="module")
def build() -> ModuleType:
    return load_infra("build")


def test_the_loads_are_read_from_the_program_headers(build: ModuleType) -> None:
    assert build.load_segments(elf(SEGMENTS)) == SEGMENTS
    assert build.load_segments(b"#!/bin/sh\n") is None


def test_a_copy_with_the_same_segments_is_safe(build: ModuleType) -> None:
    assert build.stripped_safely(elf(SEGMENTS, extra=4096), elf(SEGMENTS))


@pytest.mark.parametrize(
    "changed",
    [
        # a segment moved in the file to an offset not congruent to its address (what llvm-strip
        # does to the segments patchelf appends to some wheels' libraries)
        [SEGMENTS[0], (0x2A160, 0x2B000, 0x786331, 0x786331, 5, 0x1000)],
        [SEGMENTS[0], (0x2B000, 0x2C000, 0x786331, 0x786331, 5, 0x1000)],  # another address
        [SEGMENTS[0], (0x2B000, 0x2B000, 0x786000, 0x786331, 5, 0x1000)],  # less in the file
        SEGMENTS[:1],  # a segment gone
    ],
)
def test_a_copy_the_loader_would_map_otherwise_is_refused(
    build: ModuleType, changed: list[tuple[int, int, int, int, int, int]]
) -> None:
    assert not build.stripped_safely(elf(SEGMENTS), elf(changed))


def test_a_copy_no_longer_congruent_modulo_64_kib_is_refused(build: ModuleType) -> None:
    """Congruent modulo its 4 KiB alignment still, but no longer modulo 64 KiB as the original
    was: a kernel with 64 KiB pages would refuse it."""
    original = [SEGMENTS[0], (0x30000, 0x30000, 0x786331, 0x786331, 5, 0x1000)]
    moved = [SEGMENTS[0], (0x31000, 0x30000, 0x786331, 0x786331, 5, 0x1000)]
    assert not build.stripped_safely(elf(original), elf(moved))
    assert build.stripped_safely(elf(original), elf(original))


@pytest.mark.skipif(not shutil.which("llvm-strip"), reason="no llvm-strip on this machine")
def test_a_real_library_is_stripped_and_still_loads(build: ModuleType, tmp_path: Path) -> None:
    import pyarrow

    source = Path(pyarrow.__file__).parent
    library = next(source.glob("libarrow_acero.so.*"))
    shutil.copy2(library, tmp_path / library.name)
    (tmp_path / "notes.txt").write_text("not a library")
    tool, saved = build.strip_libraries(tmp_path)
    assert tool == "llvm-strip" and saved > 0
    assert (tmp_path / library.name).stat().st_size == library.stat().st_size - saved
    assert (tmp_path / "notes.txt").read_text() == "not a library"
    assert not list(tmp_path.glob("*.stripped"))
    # The stripped copy still links and loads (its dependencies come from pyarrow's folder).
    code = f"import ctypes, pyarrow; ctypes.CDLL({str(tmp_path / library.name)!r}); print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "ok", done.stderr
