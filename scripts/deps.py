"""Print the requirement lines of pyproject.toml, for `pip install -r /dev/stdin`.

pyproject.toml is the one list of dependencies; this lets the Makefile install it
without building the project as a package.

    python scripts/deps.py                    # runtime dependencies
    python scripts/deps.py dev                # runtime plus the `dev` extra
    python scripts/deps.py --only localredis  # just that extra
"""

import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())[
    "project"
]
args = sys.argv[1:]
only = args[:1] == ["--only"]
lines = [] if only else list(project["dependencies"])
for extra in args[1:] if only else args:
    lines += project["optional-dependencies"][extra]
print("\n".join(lines))
