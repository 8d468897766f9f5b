"""One line: the Python and the installed version of each library pyproject.toml names,
so that a CI log says which versions a suite ran on (and failed on)."""

import platform
import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

project = tomllib.loads(Path(__file__).parent.parent.joinpath("pyproject.toml").read_text())
project = project["project"]
requirements = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
names = dict.fromkeys(re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in requirements)
found = []
for name in names:
    if name == "mnist-exp":
        continue
    try:
        found.append(f"{name} {version(name)}")
    except PackageNotFoundError:
        pass  # another platform's (tensorflow beside tensorflow-cpu)
print(f"Python {platform.python_version()}, " + ", ".join(found))
