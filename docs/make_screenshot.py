"""Screenshot a sweep's report.html in headless Chromium for the README (docs/report.png).

    python docs/make_screenshot.py SWEEP_DIR docs/report.png [HEIGHT]

The browser the tests use (tests/helpers.py), at 1280 pixels wide; a 256-colour PNG
keeps the picture small.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import chromium, headless  # noqa: E402


def main(sweep_dir: str, output: str, height: str = "1500") -> None:
    browser = chromium()
    if browser is None:
        raise SystemExit("no chromium on PATH: apt-get install chromium")
    page = (Path(sweep_dir) / "report.html").resolve()
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "shot.png"
        size = f"--window-size=1280,{int(height)}"
        done = headless(browser, Path(tmp) / "profile", f"--screenshot={shot}", size, page.as_uri())
        if done.returncode != 0 or not shot.is_file():
            raise SystemExit(done.stderr[-2000:])
        with Image.open(shot) as image:
            image.convert("RGB").quantize(256).save(output, optimize=True)
    print(f"wrote {output}")


if __name__ == "__main__":
    main(*sys.argv[1:])
