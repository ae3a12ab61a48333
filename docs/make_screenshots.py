"""Make docs/page_neuron.png and docs/page_mlp.png: the explanation page in headless Chromium, mid-backward-pass.

Run from the repository's root: python docs/make_screenshots.py (needs Chromium and Pillow, as the browser tests).
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser import Browser  # noqa: E402
from PIL import Image  # noqa: E402

from chainrule.cli.explain_net import explain_mlp, explain_neuron  # noqa: E402

SHOTS = (("page_neuron.png", explain_neuron, 5, (1000, 560)), ("page_mlp.png", explain_mlp, 9, (1200, 780)))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, make, steps, (width, height) in SHOTS:
            e, title = make()
            page = e.save_html(Path(tmp) / "page.html", title)
            with Browser(width=width, height=height) as b:
                b.open(page.as_uri())
                for _ in range(steps):
                    b.key("ArrowRight")
                png = b.screenshot()
            image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128)
            image.save(ROOT / "docs" / name, optimize=True)
            print(f"docs/{name}: {(ROOT / 'docs' / name).stat().st_size // 1024} kB")


if __name__ == "__main__":
    main()
