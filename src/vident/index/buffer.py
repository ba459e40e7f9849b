"""An append-only array with amortised growth.

Ingest adds every committed batch to the index; copying the whole array on each batch would
make a million additions quadratic, so capacity doubles instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class GrowingArray:
    """Rows of a fixed shape and dtype, appended in batches; ``view`` shows the filled part."""

    def __init__(
        self, row_shape: tuple[int, ...], dtype: npt.DTypeLike, capacity: int = 1024
    ) -> None:
        self._data: npt.NDArray[Any] = np.empty((max(capacity, 1), *row_shape), dtype=dtype)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def view(self) -> npt.NDArray[Any]:
        """The filled rows, without a copy (valid until the next ``extend``)."""
        return self._data[: self._size]

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def extend(self, rows: npt.NDArray[Any]) -> None:
        needed = self._size + len(rows)
        if needed > len(self._data):
            capacity = max(needed, 2 * len(self._data))
            grown = np.empty((capacity, *self._data.shape[1:]), dtype=self._data.dtype)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : needed] = rows
        self._size = needed
