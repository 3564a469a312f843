"""The main install (`pip install -e .`) brings every module the package
and the recipes import: each import is checked against pyproject.toml's
`dependencies`, through the installed distributions that provide it. jax
and torch are the other Keras backends, installed apart and imported only
when chosen."""

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
OPTIONAL = {"jax", "torch"}  # a backend the user installs with its flag


def _imported_top_levels(folder):
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def _declared():
    """The names in pyproject.toml's `dependencies = [...]` (tomllib is
    not in Python 3.10)."""
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M)
    requirements = re.findall(r'^\s*"([^"]+)"', block.group(1), re.M)
    assert len(requirements) >= 7
    return {
        re.split(r"[<>=!~\[; ]", r)[0].lower().replace("_", "-")
        for r in requirements
    }


def test_every_import_of_the_package_and_recipes_is_a_main_dependency():
    local = {"keras_lrtools"} | {
        p.stem for p in (ROOT / "recipes").glob("*.py")
    }
    imported = _imported_top_levels(ROOT / "keras_lrtools")
    imported |= _imported_top_levels(ROOT / "recipes")
    third_party = imported - set(sys.stdlib_module_names) - local
    providers = importlib.metadata.packages_distributions()
    declared = _declared()
    missing = {}
    for name in sorted(third_party - OPTIONAL):
        distributions = {
            d.lower().replace("_", "-") for d in providers.get(name, [])
        }
        if not distributions & declared:
            missing[name] = sorted(distributions)
    assert not missing, f"imported but not in dependencies: {missing}"
    # The check sees the imports that matter.
    assert {"keras", "numpy", "matplotlib", "h5py", "tensorboard"} <= (
        third_party
    )
    assert {"PIL", "tensorflow"} <= third_party
