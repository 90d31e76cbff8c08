"""The ``minicnn`` command.

::

    minicnn train [--model lenet5] [--dataset digits] [--epochs N] [--out runs/NAME] ...
    minicnn evaluate runs/NAME/checkpoint.npz [--dataset digits]
    minicnn summary --model resnet18 [--input-shape 32 32 3] [--num-classes 10]
    minicnn info [--check]
    minicnn faces train|enrol|verify|identify ...
    minicnn stylize CONTENT STYLE -o OUT.png ...
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from .train import add_train_args, add_evaluate_args
    p = argparse.ArgumentParser(prog="minicnn", description="Convolutional networks from "
                                "scratch on NumPy/CuPy: train, evaluate, inspect.")
    sub = p.add_subparsers(dest="command")
    add_train_args(sub.add_parser("train", help="train a model on a dataset (default: "
                                  "LeNet-5 on the built-in digits)"))
    add_evaluate_args(sub.add_parser("evaluate", help="evaluate a saved checkpoint"))
    s = sub.add_parser("summary", help="print a model's layers, shapes, parameters, FLOPs")
    s.add_argument("--model", default="lenet5")
    s.add_argument("--input-shape", type=int, nargs=3, metavar=("H", "W", "C"))
    s.add_argument("--num-classes", type=int, default=10)
    i = sub.add_parser("info", help="version, array backends, devices, BLAS, threads")
    i.add_argument("--check", action="store_true", help="also time a conv on BLAS's threads "
                   "and on one: is multi-threading paying right now? (a second or two)")
    sub.add_parser("faces", help="face recognition: train, enrol, verify, identify",
                   add_help=False)
    sub.add_parser("stylize", help="neural style transfer", add_help=False)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The application commands parse their own arguments.
    if argv and argv[0] == "faces":
        from ..apps.face.cli import main as faces_main
        return faces_main(argv[1:]) or 0
    if argv and argv[0] == "stylize":
        from ..apps.style.cli import main as stylize_main
        return stylize_main(argv[1:]) or 0
    args = _parser().parse_args(argv or ["train"])
    if args.command == "train":
        from .train import run_train
        return run_train(args)
    if args.command == "evaluate":
        from .train import run_evaluate
        return run_evaluate(args)
    if args.command == "summary":
        from .train import run_summary
        return run_summary(args)
    if args.command == "info":
        from .info import run_info
        return run_info(args.check)
    _parser().print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
