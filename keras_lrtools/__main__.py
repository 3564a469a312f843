r"""Command line: preview any schedule by its short name.

    python -m keras_lrtools list
    python -m keras_lrtools preview NAME [--steps N] [--out FILE.png]
        [--adam] [--log] [--PARAMETER VALUE ...]

Example:
    python -m keras_lrtools preview one_cycle --maximal_learning_rate 0.01 \\
        --total_steps 1000 --steps 1200 --adam --out one_cycle.png
"""

import argparse
import inspect
import json
import sys

from keras_lrtools.schedules import SCHEDULES_BY_NAME


def _parameters(cls):
    signature = inspect.signature(cls.__init__)
    return {
        name: parameter.default
        for name, parameter in signature.parameters.items()
        if name not in ("self", "name")
    }


def _format(cls):
    parts = []
    for name, default in _parameters(cls).items():
        parts.append(
            name if default is inspect.Parameter.empty else f"{name}={default}"
        )
    return ", ".join(parts)


def _parse_parameters(cls, tokens):
    """--name value pairs for the schedule's constructor, checked."""
    known = _parameters(cls)
    values = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("--") or index + 1 >= len(tokens):
            raise ValueError(
                f"expected '--PARAMETER VALUE' pairs, got {token!r}. "
                f"{cls.__name__} takes: {_format(cls)}"
            )
        name = token[2:].replace("-", "_")
        if name not in known:
            raise ValueError(
                f"{cls.__name__} has no parameter {name!r}; it takes: "
                f"{_format(cls)}"
            )
        text = tokens[index + 1]
        try:
            values[name] = json.loads(text)
        except json.JSONDecodeError:
            values[name] = text
        index += 2
    missing = [
        name
        for name, default in known.items()
        if default is inspect.Parameter.empty and name not in values
    ]
    if missing:
        raise ValueError(
            f"{cls.__name__} needs {', '.join('--' + m for m in missing)}. "
            f"It takes: {_format(cls)}"
        )
    return values


def main(argv=None):
    """Runs the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m keras_lrtools",
        description="Preview keras_lrtools schedules.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the schedules and parameters")
    preview = commands.add_parser(
        "preview",
        help="plot a schedule by its short name",
        description="Any other --PARAMETER VALUE goes to the schedule.",
    )
    preview.add_argument("name", help="a short name from `list`")
    preview.add_argument(
        "--steps",
        type=int,
        default=None,
        help="updates to show (default: 1.2x the schedule's horizon, or 1000)",
    )
    preview.add_argument("--out", default=None, help="PNG file to write")
    preview.add_argument(
        "--adam",
        action="store_true",
        help="also show Adam's effective step size",
    )
    preview.add_argument("--log", action="store_true", help="log scale")
    args, rest = parser.parse_known_args(argv)
    if args.command == "list":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        for name, cls in SCHEDULES_BY_NAME.items():
            print(f"{name:<20} {cls.__name__}({_format(cls)})")
        return 0
    cls = SCHEDULES_BY_NAME.get(args.name)
    if cls is None:
        parser.error(
            f"unknown schedule {args.name!r}. Valid names: "
            f"{', '.join(SCHEDULES_BY_NAME)} (see `python -m keras_lrtools "
            "list`)."
        )
    try:
        parameters = _parse_parameters(cls, rest)
        schedule = cls(**parameters)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    steps = args.steps
    if steps is None:
        horizon = max(
            (
                v
                for k, v in parameters.items()
                if k.endswith("steps") and isinstance(v, int)
            ),
            default=0,
        )
        steps = int(1.2 * horizon) or 1000
    if steps <= 0:
        parser.error("--steps must be a positive integer.")
    from keras_lrtools.preview import plot_schedule

    curves = plot_schedule(
        schedule,
        steps,
        labels=[args.name],
        adam_effective=args.adam,
        path=args.out,
        log_scale=args.log,
    )
    values = curves[args.name]
    marks = sorted({0, steps // 4, steps // 2, 3 * steps // 4, steps - 1})
    print(
        f"{cls.__name__}: "
        + ", ".join(f"step {k}: {values[k]:.4g}" for k in marks)
    )
    if args.out:
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
