#!/usr/bin/env python3
"""Move code into a new layout (the wharf worker template, or a shipped
recipe such as the Vibe SDK's `@shared/container`), reversibly.

A JSON manifest (or a recipe: a shipped manifest selected by name) says
which source files go where and how paths change on the way.  The run is
careful and reversible:

* everything is staged in a temporary folder on the destination's
  filesystem and validated there (cc -fsyntax-only, tsc --noEmit against
  the original's diagnostics, JSON, bash -n, no #include or relative import
  left dangling) before a single destination file is touched;
* references to moved files are followed (imports, package.json, scripts,
  Dockerfiles, spawned paths); what cannot be followed is listed as work
  left, with file and line;
* every file that will be overwritten is backed up first, and staged files
  are moved into place with renames;
* a report (JSON and Markdown, outside the destination) records every
  file, rewrite, skip, backup and check; `--rollback REPORT.json` restores
  the previous state byte for byte, and `validate DEST` re-checks the tree
  against it at any time.

Exit status: 0 success, 1 failed operation or validation, 2 usage or
manifest error.  Python 3.11 standard library; see docs/migrate.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wharf_migrate.cli import main  # noqa: E402  (after the path is set)

if __name__ == "__main__":
    sys.exit(main())
