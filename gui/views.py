"""A table view that says what will appear in it while it is empty, and keeps the column
that takes the spare width readable when there is none to spare; a one-line label that gives
up width by cutting its text with "…" (the status bar's)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QHelpEvent, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QHeaderView, QLabel, QTableView, QToolTip, QWidget

ELIDED_MIN_CHARS = 8  # how narrow an ElidedLabel may get: a few letters and the "…"


class ElidedLabel(QLabel):
    """One line of plain text that fits the width it is given: cut with "…" where it does not
    fit, the whole of it in a tooltip then. ``text()`` is always the whole text.

    A QLabel asks for its whole text's width and, in a status bar, is drawn over by (or draws
    over) its neighbours at 800 px wide; this one asks for that width but settles for less."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        narrow = self.fontMetrics().averageCharWidth() * ELIDED_MIN_CHARS
        return QSize(min(hint.width(), narrow), hint.height())

    def shown_text(self) -> str:
        """The text as drawn at the label's width now."""
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawText(self.contentsRect(), int(self.alignment()) | int(Qt.TextFlag.TextSingleLine),
                         self.shown_text())

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent) and not self.toolTip():
            if self.shown_text() != self.text():
                QToolTip.showText(event.globalPos(), self.text(), self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)


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
