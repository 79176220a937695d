"""`opendfa data ...` subcommands: argument parsing only, the work is in the data package."""

from __future__ import annotations

import argparse
import contextlib
import random
from pathlib import Path

from opendfa.cli_options import add_progress_option
from opendfa.console import cli_error
from opendfa.exits import EXIT_INPUT, EXIT_OK


def add_data_commands(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="synthesize, import, split and inspect datasets")
    sub = data.add_subparsers(title="data commands", metavar="ACTION")

    synth = sub.add_parser("synth", help="make reals and labelled forgeries from face photos")
    synth.add_argument(
        "--faces", required=True, help="folder of photos (one subfolder per identity)"
    )
    synth.add_argument("--out", required=True, help="output folder (manifest.jsonl, images, masks)")
    synth.add_argument("--methods", nargs="+", default=None, help="forgery methods (default: all)")
    synth.add_argument("--per-face", type=int, default=1, help="forgeries per face and method")
    synth.add_argument("--seed", type=int, default=0)
    _add_split_fractions(synth)
    add_progress_option(synth)
    synth.set_defaults(handler=_synth)

    imp = sub.add_parser(
        "import",
        help="index a public dataset already on disk",
        add_help=False,
        epilog="Every other flag is an option of the chosen format's importer; "
        "`opendfa data import --format NAME --help` lists them.",
    )
    imp.add_argument("-h", "--help", action=_ImportHelp, help="show this help (and the format's)")
    imp.add_argument("root", help="dataset root folder")
    imp.add_argument(
        "--format", required=True, help="ffpp, celebdf, df40, dfdc, deepfakebench, mmtt"
    )
    imp.add_argument("--out", required=True, help="manifest to write (JSONL)")
    imp.set_defaults(handler=_import, takes_importer_flags=True)

    split = sub.add_parser("split", help="assign identity-disjoint train/val/test splits")
    split.add_argument("manifest")
    split.add_argument("--out", help="write here instead of in place")
    _add_split_fractions(split)
    split.add_argument("--seed", type=int, default=0)
    split.set_defaults(handler=_split)

    stats = sub.add_parser("stats", help="counts per category, technique, split and identity")
    stats.add_argument("manifest")
    stats.set_defaults(handler=_stats)

    sheet = sub.add_parser("sheet", help="contact sheet of samples with masks and labels")
    sheet.add_argument("manifest")
    sheet.add_argument("--out", required=True, help="PNG to write")
    sheet.add_argument("--per-technique", type=int, default=2, help="samples drawn per technique")
    sheet.add_argument("--count", type=int, help="draw this many samples at random instead")
    sheet.add_argument("--method", help="only samples made by this forgery method (meta.method)")
    sheet.add_argument("--columns", type=int, default=4)
    sheet.add_argument("--seed", type=int, default=0)
    sheet.set_defaults(handler=_sheet)


class _ImportHelp(argparse.Action):
    """`--help` of `data import`; after `--format NAME` it adds that importer's flags (loaded
    only then, so the plain help stays light)."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        parser.print_help()
        name = (getattr(namespace, "format", None) or "").lower()
        if name:
            from opendfa.data.import_options import importer_parser

            with contextlib.suppress(KeyError):  # an unknown name: the import names them
                print("\n" + importer_parser(name).format_help(), end="")
        parser.exit()


def _add_split_fractions(parser: argparse.ArgumentParser) -> None:
    """Identity fractions per split; the defaults are DFA-Instruct's 94 / 5.8 / 0.2 %."""
    parser.add_argument("--train", type=float, default=0.94, help="fraction of identities")
    parser.add_argument("--test", type=float, default=0.058, help="fraction of identities")
    parser.add_argument("--val", type=float, default=0.002, help="fraction of identities")


def _load(path: str):
    from opendfa.data import read_manifest

    manifest = read_manifest(path)
    for problem in manifest.problems:
        cli_error(f"{problem} ({path})")
    return manifest


def _synth(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from opendfa.data import SplitConfig
    from opendfa.data.synth import DEFAULT_METHODS, SynthConfig, synthesize
    from opendfa.forge import FORGERY_METHODS

    faces = Path(args.faces)
    if not faces.is_dir():
        cli_error(f"not a folder ({faces})")
        return EXIT_INPUT
    methods = tuple(args.methods or [m for m in DEFAULT_METHODS if m in FORGERY_METHODS])
    try:
        splits = SplitConfig(train=args.train, test=args.test, val=args.val, seed=args.seed)
    except ValueError as err:
        cli_error(str(err))
        return EXIT_INPUT
    config = SynthConfig(methods=methods, per_face=args.per_face, seed=args.seed, splits=splits)
    progress = (
        None if args.no_progress else (lambda jobs: tqdm(list(jobs), desc="synth", unit="sample"))
    )
    try:
        report = synthesize(faces, args.out, config, progress=progress)
    except ValueError as err:
        cli_error(str(err))
        return EXIT_INPUT
    for problem in report.problems:
        cli_error(problem)
    made = ", ".join(f"{k} {v}" for k, v in sorted(report.per_method.items())) or "nothing new"
    print(
        f"wrote {report.written} samples ({made}); {report.skipped_existing} already there; "
        f"{len(report.problems)} problem(s); manifest: {Path(args.out) / 'manifest.jsonl'}"
    )
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from opendfa.data import write_manifest
    from opendfa.data.import_options import importer_options
    from opendfa.data.importers import IMPORTERS, import_dataset

    name = args.format.lower()
    try:
        options = importer_options(name, args.importer_flags) if name in IMPORTERS else {}
        result = import_dataset(name, args.root, **options)
    except (ValueError, KeyError) as err:
        cli_error(str(err).strip("'\""))
        return EXIT_INPUT
    for problem in result.problems:
        cli_error(problem)
    count = write_manifest(args.out, result.rebased(Path(args.out).parent))
    print(f"wrote {count} samples to {args.out} ({len(result.problems)} problem(s))")
    return EXIT_OK


def _split(args: argparse.Namespace) -> int:
    from opendfa.data import SplitConfig, assign_splits, write_manifest

    try:
        config = SplitConfig(train=args.train, test=args.test, val=args.val, seed=args.seed)
    except ValueError as err:
        cli_error(str(err))
        return EXIT_INPUT
    manifest = _load(args.manifest)
    samples = assign_splits(manifest.samples, config)
    out = args.out or args.manifest
    write_manifest(out, samples)
    left_out = sum(s.split is None for s in samples)
    print(
        f"split {len(samples)} samples into {out}; {left_out} left out (identities across splits)"
    )
    return EXIT_OK


def _stats(args: argparse.Namespace) -> int:
    from opendfa.data.stats import manifest_stats

    manifest = _load(args.manifest)
    print(manifest_stats(manifest.samples).table())
    return EXIT_OK


def _sheet(args: argparse.Namespace) -> int:
    from opendfa.data.sheet import contact_sheet, write_sheet

    manifest = _load(args.manifest)
    pool = [s for s in manifest.samples if not args.method or s.meta.get("method") == args.method]
    by_technique: dict[str, list] = {}
    for sample in pool:
        by_technique.setdefault(sample.technique, []).append(sample)
    rng = random.Random(args.seed)
    chosen = []
    if args.count:
        chosen = sorted(rng.sample(pool, min(args.count, len(pool))), key=lambda s: s.technique)
    for technique in sorted(by_technique) if not args.count else []:
        group = by_technique[technique]
        chosen.extend(rng.sample(group, min(args.per_technique, len(group))))
    if not chosen:
        cli_error(f"no samples to draw ({args.manifest})")
        return EXIT_INPUT
    write_sheet(args.out, contact_sheet(manifest, chosen, columns=args.columns))
    print(f"wrote {args.out} ({len(chosen)} samples)")
    return EXIT_OK
