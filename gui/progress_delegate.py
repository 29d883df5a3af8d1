"""A progress bar painted inside a table cell, from the model's ProgressRole (0..1, or NO_PROGRESS)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionProgressBar, QStyleOptionViewItem

from batchmill.gui.jobs_model import NO_PROGRESS, BarColorRole, ProgressRole

STEPS = 1000


class ProgressDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        fraction = index.data(ProgressRole)
        if not isinstance(fraction, float) or fraction == NO_PROGRESS:
            super().paint(painter, option, index)
            return
        # Keep the row's selection/near-timeout background behind the bar.
        background = QStyleOptionViewItem(option)
        self.initStyleOption(background, index)
        background.text = ""
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, background, painter, option.widget)

        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(3, 3, -3, -3)
        bar.minimum, bar.maximum = 0, STEPS
        bar.progress = int(round(float(fraction) * STEPS))
        bar.text = str(index.data(Qt.ItemDataRole.DisplayRole))
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        color = index.data(BarColorRole)
        if isinstance(color, QColor) and color.isValid():  # completed with failures, stopped: a look of its own
            bar.palette = QPalette(option.palette)
            bar.palette.setColor(QPalette.ColorRole.Highlight, color)
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
