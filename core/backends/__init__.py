"""Where files are processed. The engine plans, journals and decides; a backend runs batches.

- ``local``: Batchmill's own pool of spawn worker processes on this machine (default).
- ``dask``: a ``dask.distributed`` cluster (optional extra ``batchmill[dask]``).
"""

from batchmill.core.backends.base import Backend, BackendSettings, Lost, WorkerGone, WorkerNow

__all__ = ["Backend", "BackendSettings", "Lost", "WorkerGone", "WorkerNow"]
