"""A table view that says what will appear in it while it is empty, and keeps the column
that takes the spare width readable when there is none to spare."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QHeaderView, QTableView, QWidget


class PlaceholderTableView(QTableView):
    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.placeholder = placeholder
        self._stretch: tuple[int, int] | None = None  # (column, narrowest readable width)
        self._narrow: bool | None = None  # whether that column is held at its narrowest now

    def stretch_column(self, column: int, minimum: int) -> None:
        """``column`` takes the width the others leave; where that is under ``minimum`` (a small
        screen), it keeps ``minimum`` and the table scrolls sideways instead of cutting it to "…"."""
        self._stretch = (column, minimum)
        self._fit_stretch_column()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_stretch_column()

    def _fit_stretch_column(self) -> None:
        if self._stretch is None or self.model() is None:
            return
        column, minimum = self._stretch
        header = self.horizontalHeader()
        others = sum(header.sectionSize(c) for c in range(header.count()) if c != column)
        narrow = self.viewport().width() - others < minimum
        if narrow == self._narrow:
            return
        self._narrow = narrow
        if narrow:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, minimum)
        else:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is not None and model.rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.viewport().rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            painter.end()
