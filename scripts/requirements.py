"""Print the exact pins from pyproject.toml, plus the named optional groups: python scripts/requirements.py test"""

import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
pins = list(project["dependencies"])
for group in sys.argv[1:]:
    pins += project["optional-dependencies"][group]
print("\n".join(pins))
