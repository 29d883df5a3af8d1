"""Render the application icon (resources/icons/batchmill.svg) into the files each platform wants:
resources/batchmill.png (Linux, 256 px), batchmill.ico (Windows), batchmill.icns (macOS).

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SVG = REPO / "resources" / "icons" / "batchmill.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)


def render(size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(SVG)).render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    images = {size: Image.open(io.BytesIO(render(size))).convert("RGBA") for size in SIZES}
    images[256].save(REPO / "resources" / "batchmill.png")
    images[256].save(REPO / "resources" / "batchmill.ico", sizes=[(s, s) for s in SIZES if s <= 256])
    images[1024].save(REPO / "resources" / "batchmill.icns")
    del app
    print("wrote resources/batchmill.png, batchmill.ico, batchmill.icns")


if __name__ == "__main__":
    main()
