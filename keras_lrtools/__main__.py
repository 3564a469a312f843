r"""Command line: preview any schedule by its short name.

    python -m keras_lrtools list
    python -m keras_lrtools preview NAME [--total_steps N]
        [--peak_learning_rate LR] [--warmup_steps W] [--steps N]
        [--out FILE.png] [--adam] [--log] [--PARAMETER VALUE ...]

The schedule is sized for the run by `keras_lrtools.schedules.for_run`;
any other --PARAMETER VALUE replaces one of its arguments.

Example:
    python -m keras_lrtools preview one_cycle --peak_learning_rate 0.01 \\
        --total_steps 1000 --steps 1200 --adam --out one_cycle.png
"""

import argparse
import inspect
import json
import os
import sys

from keras_lrtools._cli_checks import MAX_PREVIEW_STEPS
from keras_lrtools._cli_checks import run_size_names

# The run's own parameters, and their defaults in a preview.
RUN_DEFAULTS = {
    "total_steps": 1000,
    "peak_learning_rate": 1e-3,
    "warmup_steps": 0,
}


def _format(cls):
    if cls is None:
        return "a float, the rate itself"
    parts = []
    signature = inspect.signature(cls.__init__)
    for name, parameter in signature.parameters.items():
        if name in ("self", "name"):
            continue
        default = parameter.default
        parts.append(
            name if default is inspect.Parameter.empty else f"{name}={default}"
        )
    return f"{cls.__name__}({', '.join(parts)})"


def _parse_parameters(name, tokens):
    """--name value pairs: the run's parameters and any overrides."""
    values = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("--") or index + 1 >= len(tokens):
            raise ValueError(
                f"expected '--PARAMETER VALUE' pairs, got {token!r}."
            )
        key = token[2:].replace("-", "_")
        text = tokens[index + 1]
        try:
            values[key] = json.loads(text)
        except json.JSONDecodeError:
            values[key] = text
        index += 2
    run = {key: values.pop(key, RUN_DEFAULTS[key]) for key in RUN_DEFAULTS}
    from keras_lrtools.schedules import run_arguments

    known = run_arguments(name, **run)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(
            f"{name} has no parameter {unknown[0]!r}; it takes: "
            f"{', '.join(dict.fromkeys([*RUN_DEFAULTS, *known]))}"
        )
    return run, values


def _check_out(parser, path):
    """--out: an existing folder, a format matplotlib writes."""
    if path is None:
        return
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    extension = os.path.splitext(path)[1].lstrip(".").lower()
    if extension not in formats:
        parser.error(
            f"--out {path!r}: the file name must end in one of "
            f"{', '.join('.' + f for f in sorted(formats))}."
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        parser.error(f"--out {path!r}: the folder {folder!r} does not exist.")
    if not os.access(folder, os.W_OK):
        parser.error(f"--out {path!r}: the folder {folder!r} is not writable.")


class _Parser(argparse.ArgumentParser):
    """Errors in one line (argparse adds a usage line)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv=None):
    """Runs the command line; returns the exit status."""
    parser = _Parser(
        prog="python -m keras_lrtools",
        description="Preview keras_lrtools schedules.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the schedules and parameters")
    preview = commands.add_parser(
        "preview",
        help="plot a schedule by its short name",
        description="The schedule is sized by keras_lrtools.schedules."
        "for_run from --total_steps (default 1000), --peak_learning_rate "
        "(default 0.001) and --warmup_steps (default 0); any other "
        "--PARAMETER VALUE replaces one of its arguments.",
    )
    preview.add_argument("name", help="a short name from `list`")
    preview.add_argument(
        "--steps",
        type=int,
        default=None,
        help="updates to show (default: 1.2x the run's length)",
    )
    preview.add_argument("--out", default=None, help="image file to write")
    preview.add_argument(
        "--adam",
        action="store_true",
        help="also show Adam's effective step size",
    )
    preview.add_argument("--log", action="store_true", help="log scale")
    args, rest = parser.parse_known_args(argv)
    if args.command == "list" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    names = run_size_names()
    if args.command == "preview" and args.name not in names:
        parser.error(
            f"unknown schedule {args.name!r}. Valid names: "
            f"{', '.join(names)} (see `python -m keras_lrtools list`)."
        )
    if args.command == "preview":
        if args.steps is not None and not 0 < args.steps <= MAX_PREVIEW_STEPS:
            parser.error(
                "--steps must be a positive integer <= "
                f"{MAX_PREVIEW_STEPS:,}, got {args.steps}."
            )
        _check_out(parser, args.out)
    from keras_lrtools import _start_keras

    _start_keras()  # after the checks that need no Keras: quietly
    from keras_lrtools.schedules import RUN_SIZES
    from keras_lrtools.schedules import for_run

    if args.command == "list":
        for name, size in RUN_SIZES.items():
            print(f"{name:<20} {_format(size.schedule_class)}")
        return 0
    try:
        run, overrides = _parse_parameters(args.name, rest)
        schedule = for_run(args.name, **run, **overrides)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    if isinstance(schedule, float):  # "constant" without warmup
        from keras_lrtools.schedules import SequentialSchedule

        schedule = SequentialSchedule([schedule], [])
    steps = args.steps or min(int(1.2 * run["total_steps"]), MAX_PREVIEW_STEPS)
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
    points = ", ".join(f"step {k}: {values[k]:.4g}" for k in marks)
    print(f"{args.name}: {points}")
    if args.out:
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
