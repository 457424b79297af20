"""Module layout: imports point one way (style.md habit 11), stages stay pure.

Each gdl module may import only modules listed above it here, so `ops`
cannot reach the runtime, the front end cannot reach stage logic, and the
runtime and the API never import the reference interpreter.
"""
from __future__ import annotations

import ast
from pathlib import Path

GDL = Path(__file__).resolve().parent.parent / "gdl"

ORDER = """
errors cachefiles dtype philox syntax parse ir
ops.base ops.elementwise ops.math ops.reduce ops.linalg ops.shape ops.views ops.init ops.tapes ops.control_ad ops.control ops.effects ops
verify printer weak builtins scopes expressions build autodiff optimize bounds lint interp tapecost
runtime.hostmem runtime.device runtime.kernel_text runtime.tuning runtime.gen_reduce runtime.gen_scan runtime.gen_linalg runtime.gen_shape runtime.gen_check runtime.gen_fused runtime.codegen runtime.plan runtime.nancheck runtime.memory runtime.values runtime.tapes runtime.execute runtime.resident runtime session
api check report graphview graphdot workspace repl cli
""".split()


def module_name(path: Path) -> str:
    rel = path.relative_to(GDL).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "__init__"


def gdl_imports(path: Path) -> set[str]:
    """The gdl modules a file imports, as names relative to the package."""
    tree = ast.parse(path.read_text())
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1] if node.level > 1 else package
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [f"{'.'.join(base)}.{a.name}".strip(".")
                                                      for a in node.names]
            elif node.module and node.module.startswith("gdl"):
                names = [node.module[4:] or "__init__"]
            else:
                continue
            for n in names:
                found.add(n.strip(".") or "__init__")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("gdl."):
                    found.add(a.name[4:])
    return found


def rank(name: str) -> int:
    while name not in ORDER and "." in name:
        name = name.rsplit(".", 1)[0]
    return ORDER.index(name) if name in ORDER else -1


def test_every_module_is_in_the_layout():
    for path in GDL.rglob("*.py"):
        name = module_name(path)
        if name != "__init__":
            assert rank(name) >= 0, f"{name} is missing from the layout order"


def test_imports_point_up_the_layout():
    problems = []
    for path in GDL.rglob("*.py"):
        name = module_name(path)
        if name == "__init__":
            continue
        for imported in gdl_imports(path):
            if imported == name or imported == "__init__":
                continue
            if rank(imported) >= rank(name) and not name.startswith(imported + "."):
                problems.append(f"{name} imports {imported}")
    assert not problems, problems


def test_runtime_and_api_never_import_the_interpreter():
    for path in list((GDL / "runtime").glob("*.py")) + [GDL / "api.py", GDL / "cli.py"]:
        if path.exists():
            assert "interp" not in gdl_imports(path), path


def test_no_module_level_mutable_state():
    """Module-level names bound to lists, dicts or sets are shared mutable state."""
    offenders = []
    for path in GDL.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                value = node.value
                if isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp,
                                      ast.SetComp)):
                    offenders.append(f"{module_name(path)}:{node.lineno}")
    assert not offenders, offenders
