"""Combine a run's plots into the README's picture (docs/run-plots.png).

    python docs/make_figure.py outputs/runs/DATE/TIME docs/run-plots.png

Loss and accuracy curves above, the confusion matrix and the misclassified
digits below; a 256-colour PNG keeps it well under 200 KB.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROWS = [("loss", "accuracy"), ("confusion_matrix", "incorrect")]
ROW_HEIGHT = [300, 420]  # pixels
GAP = 12


def combine(plots: Path) -> Image.Image:
    rows = []
    for names, height in zip(ROWS, ROW_HEIGHT, strict=True):
        images = []
        for name in names:
            with Image.open(plots / f"{name}.png") as image:
                image = image.convert("RGBA")
                width = round(image.width * height / image.height)
                images.append(image.resize((width, height), Image.Resampling.LANCZOS))
        rows.append(images)
    width = max(sum(i.width for i in row) + GAP * (len(row) - 1) for row in rows)
    height = sum(ROW_HEIGHT) + GAP * (len(rows) - 1)
    canvas = Image.new("RGBA", (width, height), "white")
    top = 0
    for row, row_height in zip(rows, ROW_HEIGHT, strict=True):
        left = (width - sum(i.width for i in row) - GAP * (len(row) - 1)) // 2
        for image in row:
            canvas.alpha_composite(image, (left, top))
            left += image.width + GAP
        top += row_height + GAP
    return canvas.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)


def main() -> None:
    run_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    combine(run_dir / "plots").save(out, optimize=True)
    print(f"{out}: {out.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
