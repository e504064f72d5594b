"""The command line of scripts/migrate.py."""

from __future__ import annotations

import argparse
import os
import sys

from .recipes import recipe_names
from .rollback import run_rollback
from .run import run_migration
from .util import EXIT_FAILED, EXIT_USAGE, RunError, UsageError
from .validate import validate_dest

USAGE = """migrate.py MANIFEST [--dry-run] [--report PATH] [--print-manifest]
       migrate.py RECIPE CHECKOUT [--dry-run] [--report PATH] [--print-manifest]
       migrate.py validate DEST [--report REPORT.json]
       migrate.py --rollback REPORT.json [--force] [--dry-run]"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Flags; argparse itself exits 2 on usage errors."""
    parser = argparse.ArgumentParser(
        prog="migrate.py", usage=USAGE,
        description="Move code into a new layout, as a JSON manifest (or a shipped recipe: "
                    f"{', '.join(recipe_names())}) says: stage, follow references, validate, back up, "
                    "then move; reversible with --rollback; re-checked at any time with validate.",
        epilog="Exit status: 0 success, 1 failed operation (or validation), 2 usage or manifest error. "
               "See docs/migrate.md for the manifest, the recipes and the report.")
    parser.add_argument("target", nargs="*", metavar="ARG",
                        help="MANIFEST; or RECIPE CHECKOUT (e.g. vibesdk ~/src/vibesdk); "
                             "or validate DEST")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would be copied, rewritten, overwritten and skipped, and "
                             "validate it; change nothing (with --rollback: show what it would undo)")
    parser.add_argument("--report", metavar="PATH",
                        help="report base: writes PATH.json and PATH.md (backups in PATH.backup/); "
                             "default: beside the destination, DEST.migrate-RUNID.* (with validate: "
                             "the report to check against; default: the newest found beside DEST)")
    parser.add_argument("--print-manifest", action="store_true",
                        help="print the manifest the run amounts to (a recipe's discovery written "
                             "out), to keep and edit; change nothing")
    parser.add_argument("--rollback", metavar="REPORT.json",
                        help="undo the run recorded in this report")
    parser.add_argument("--force", action="store_true",
                        help="with --rollback: also undo files modified since the run, discarding "
                             "those changes")
    args = parser.parse_args(argv)
    args.manifest = args.recipe = args.checkout = args.validate = None
    target = args.target
    if args.rollback:
        if target:
            parser.error("--rollback takes no MANIFEST, RECIPE or validate")
        if args.report:
            parser.error("--report does not apply to --rollback")
    elif not target:
        parser.error("give a MANIFEST, a RECIPE and its CHECKOUT, validate DEST, or --rollback REPORT.json")
    elif target[0] == "validate":
        if len(target) != 2:
            parser.error("validate takes one DEST folder: migrate.py validate DEST")
        args.validate = target[1]
        if args.dry_run or args.print_manifest:
            parser.error("validate changes nothing; --dry-run and --print-manifest do not apply")
    elif len(target) == 2:
        args.recipe, args.checkout = target
    elif len(target) == 1:
        if target[0] in recipe_names():
            parser.error(f"{target[0]} is a recipe: give the checkout too (migrate.py {target[0]} CHECKOUT)")
        args.manifest = target[0]
    else:
        parser.error("too many arguments")
    if args.force and not args.rollback:
        parser.error("--force only applies to --rollback")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run, and turn our two error kinds into their exit statuses."""
    args = parse_args(argv)
    try:
        if args.rollback:
            return run_rollback(args)
        if args.validate:
            return validate_dest(args.validate, args.report)
        return run_migration(args)
    except BrokenPipeError:
        # stdout closed early (`| head`): not an error of the run; keep the
        # interpreter from failing again when it flushes at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except UsageError as exc:
        print(f"migrate: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RunError as exc:
        print(f"migrate: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"migrate: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
