"""What the command lines check before Keras starts (it takes seconds).

The standard library only. `run_size_names()` reads the keys of the one
table of schedule names, `keras_lrtools/schedules/sizing.py`'s
`RUN_SIZES`, from its source. A script that must not import the package
(its `__init__` starts Keras) runs this file with `runpy.run_path`.
"""

import ast
import os

PACKAGE_FOLDER = os.path.dirname(os.path.abspath(__file__))
MAX_PREVIEW_STEPS = 10**7  # plot_schedule's limit


def run_size_names(package_folder=PACKAGE_FOLDER):
    """The keys of RUN_SIZES, in the table's order."""
    path = os.path.join(package_folder, "schedules", "sizing.py")
    with open(path) as source:
        module = ast.parse(source.read())
    for node in module.body:
        targets = getattr(node, "targets", [])
        if [getattr(target, "id", None) for target in targets] == ["RUN_SIZES"]:
            return tuple(ast.literal_eval(key) for key in node.value.keys)
    raise RuntimeError(f"{path} has no RUN_SIZES table.")
