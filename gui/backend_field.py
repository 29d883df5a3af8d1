"""Where jobs run: this computer's own worker processes, or a Dask cluster (a scheduler address,
or none for a Dask cluster started on this computer)."""

from __future__ import annotations

import importlib.util

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QWidget

LOCAL, DASK = "local", "dask"
LABELS = {LOCAL: "This computer", DASK: "Dask cluster"}
NOT_INSTALLED = "Dask is not installed here: pip install 'batchmill[dask]'"


def dask_installed() -> bool:
    """Asked without importing Dask: the window must not pay for it at start-up."""
    return importlib.util.find_spec("distributed") is not None


def describe_backend(backend: str, scheduler: str | None) -> str:
    """Where a job runs, in words (the queue's tooltip)."""
    if backend != DASK:
        return "this computer (its own worker processes)"
    return f"the Dask cluster at {scheduler}" if scheduler else "a Dask cluster started on this computer"


class BackendField(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        for backend, label in LABELS.items():
            self.combo.addItem(label, backend)
        self.combo.setToolTip("Run jobs with this computer's own worker processes, or on a Dask cluster")
        self.address = QLineEdit()
        self.address.setPlaceholderText("tcp://host:8786, or empty for a cluster on this computer")
        self.address.setToolTip("The Dask scheduler to send jobs to. Empty: a Dask cluster is started on this "
                                "computer. The workers must see the input and output folders at the same paths.")
        if not dask_installed():
            model = self.combo.model()
            assert isinstance(model, QStandardItemModel)
            item = model.item(self.combo.findData(DASK))
            item.setEnabled(False)
            item.setToolTip(NOT_INSTALLED)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addWidget(self.address, 1)
        layout.addStretch(0)  # takes the room while the address is hidden, so the combo keeps its size
        self.combo.currentIndexChanged.connect(self._on_change)
        self.address.textChanged.connect(self.changed)
        self._on_change()

    def backend(self) -> str:
        return str(self.combo.currentData())

    def scheduler(self) -> str | None:
        """The address for the JobSpec: None for the local pool, or for a Dask cluster started here."""
        text = self.address.text().strip()
        return text if text and self.backend() == DASK else None

    def set_backend(self, backend: str, scheduler: str | None = None) -> None:
        index = self.combo.findData(backend)
        model = self.combo.model()
        if index >= 0 and model.flags(model.index(index, 0)) & Qt.ItemFlag.ItemIsEnabled:
            self.combo.setCurrentIndex(index)
        self.address.setText(scheduler or "")

    def _on_change(self) -> None:
        dask = self.backend() == DASK
        self.address.setEnabled(dask)
        self.address.setVisible(dask)  # nothing to ask while jobs run here
        self.changed.emit()
