"""Files of train_signs.py: run folders and JSON, never half-written."""

import json
import os
import time


def new_folder(root, stem):
    """Creates `root/stem-<timestamp>[-n]`, never an existing folder: two
    runs started in the same second each get their own."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in range(1, 10_000):
        name = f"{stem}-{stamp}" + (f"-{suffix}" if suffix > 1 else "")
        try:
            os.makedirs(os.path.join(root, name))  # fails if it exists
        except FileExistsError:
            continue
        return os.path.join(root, name)
    raise FileExistsError(f"No free folder name for {stem!r} in {root!r}.")


def write_json(path, content):
    """Writes `content` whole or not at all (a temporary file, renamed)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as file:
        json.dump(content, file, indent=2)
    os.replace(temporary, path)
