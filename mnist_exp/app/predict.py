"""The `mnist-exp-predict RUN_DIR_OR_MODEL INPUT...` command: a trained model's
classes for image files.

An INPUT is an image file (PNG, JPEG, or anything else Pillow reads: any size,
colour or grayscale, dark ink on light paper or light on dark) or a .npy/.npz of
images already in MNIST form. A bad input is one line on stderr and the others
are still predicted; the exit code is then 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_exp.app import startup
from mnist_exp.errors import UserError
from mnist_exp.models.files import load_model
from mnist_exp.predict.images import InputError
from mnist_exp.predict.infer import class_names, model_path, predict, ranked, results
from mnist_exp.predict.inputs import read_input
from mnist_exp.results.console import print_error
from mnist_exp.results.files import write_csv

EXIT_SOME_FAILED = 1
EXIT_USAGE = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mnist-exp-predict",
        description="Predict the digit in each image with a trained mnist-exp model.",
        epilog=(
            "Images of any size, colour or grayscale, dark-on-light or light-on-dark, are "
            "normalised as MNIST's digits were (grayscale, light on dark, fitted into 20x20 "
            "keeping the aspect ratio, centred by mass in 28x28). A .npy/.npz holds images "
            "already in MNIST form: (n, 28, 28) or (n, 784), 0-255 or 0-1. Exit code: 0, "
            "1 when some inputs could not be read, 2 when nothing could be predicted."
        ),
    )
    parser.add_argument("model", type=Path, help="a run directory, or a .keras/.h5 model file")
    parser.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="images, .npy, .npz")
    parser.add_argument("--csv", type=Path, help="also write every prediction to this CSV file")
    parser.add_argument("--top", type=int, default=3, help="classes listed per image (3)")
    parser.add_argument("--rows", type=int, default=50, help="table rows shown; 0: all (50)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    startup.run_command(lambda: predict_command(argv))


def predict_command(argv: list[str] | None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except UserError as exc:
        print_error(str(exc))
        return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    if args.top < 1:
        raise UserError(f"--top {args.top}: give 1 or more")
    path = model_path(args.model)
    items, failed = [], 0
    for source in args.inputs:
        try:
            items.extend(read_input(source))
        except InputError as exc:
            print_error(f"{source}: {exc}")
            failed += 1
    if not items:
        raise UserError("no input could be read; nothing to predict")

    startup.import_keras()  # TensorFlow: only once there is work
    model = load_model(path)
    probabilities = predict(model, items)
    names = class_names(args.model, probabilities.shape[1])
    table = results(items, ranked(probabilities, min(args.top, probabilities.shape[1])), names)
    console = Console()
    print_table(console, table, path, args.rows)
    if args.csv is not None:
        write_csv(args.csv, table)
        console.print(f"wrote {len(table)} predictions to {args.csv}", highlight=False)
    return EXIT_SOME_FAILED if failed else 0


def print_table(console, table, model: Path, limit: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    view = Table(title=f"predictions of {model}", title_justify="left")
    view.add_column("file", overflow="fold")
    view.add_column("predicted", justify="center")
    view.add_column("confidence", justify="right")
    view.add_column(f"top {1 + sum(c.endswith('_confidence') for c in table.columns)}")
    shown = table if limit <= 0 else table.head(limit)
    for row in shown.to_dict("records"):
        top = [(row["predicted"], row["confidence"])]
        k = 2
        while f"top{k}" in row:
            top.append((row[f"top{k}"], row[f"top{k}_confidence"]))
            k += 1
        view.add_row(  # escape: file and class names are text, not rich markup
            escape(row["file"]),
            f"[bold]{escape(row['predicted'])}[/]",
            f"{row['confidence']:.3f}",
            escape("  ".join(f"{name} {p:.3f}" for name, p in top)),
        )
    console.print(view)
    if len(shown) < len(table):
        console.print(f"... and {len(table) - len(shown)} more (all of them: --csv FILE)")


if __name__ == "__main__":
    main()
