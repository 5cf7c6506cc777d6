"""Module and function sizes of `newsletter/` at a git revision (the house's "small modules,
short functions" rule, measured).

    .venv/bin/python bench/code_sizes.py [REV]     # default HEAD

Prints the module count and lines, the modules over 300 lines, the five largest modules and the
five longest functions (lines from `def` to the end, docstring included), and how many functions
are over 60 lines.
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tarfile


def main(rev: str) -> None:
    data = subprocess.run(["git", "archive", rev, "newsletter"], capture_output=True, check=True).stdout
    functions: list[tuple[int, str]] = []
    modules: list[tuple[int, str]] = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if not member.name.endswith(".py") or (handle := tar.extractfile(member)) is None:
                continue
            source = handle.read().decode()
            modules.append((len(source.splitlines()), member.name))
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    functions.append((length, f"{member.name}:{node.name}"))
    modules.sort(reverse=True)
    functions.sort(reverse=True)
    print(f"{rev}: {len(modules)} modules, {sum(n for n, _ in modules):,} lines;"
          f" top-level modules in newsletter/: {sum(1 for _, p in modules if p.count('/') == 1)}")
    print("over 300 lines:", ", ".join(f"{p} {n}" for n, p in modules if n > 300) or "none")
    print("largest modules:", ", ".join(f"{p} {n}" for n, p in modules[:5]))
    print("longest functions:", ", ".join(f"{p} {n}" for n, p in functions[:5]))
    print("functions over 60 lines:", sum(1 for n, _ in functions if n > 60))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "HEAD")
