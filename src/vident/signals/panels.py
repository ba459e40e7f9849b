"""Panels: the parts of a picture that flat bands set apart (collage tiles, the picture in an
image viewer's screenshot, a picture above its caption band, a letterboxed frame).

Redistributed material is often one picture among others on a page: a tile of a collage, a
photo shown in a viewer with its toolbars around it, a picture with a caption band added. Its
keypoints then sit at a small scale inside the frame, among other pictures' keypoints, and too
few of them agree with the known picture. Found as a panel, the same part is described at the
working size of its own, like a thumbnail of the known picture, which local features match.

The cut is recursive (an XY cut, as page-layout analysis segments a scanned page): within a
box, a run of rows (or columns) each of one even tone across the box's width separates the
parts above and below it; margins of one tone are trimmed; each part is cut again. Pictures
pasted onto another picture (no flat band between them) are not found this way: the dense set
of :mod:`vident.signals.keypoints` is what meets those.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image

#: A box: x, y, width, height in pixels.
Box = tuple[int, int, int, int]

#: Longest side, in pixels, the cut reads. It is given the keypoints' working picture (640 px
#: on its longer side, where a 1,200 px collage's 8-pixel gutter is 4 px wide; 0.8 ms); only
#: a long strip, enlarged to the working picture's shortest side, is reduced to this.
PANEL_SIDE: Final = 768
#: A line is flat when its pixels lie this close (mean absolute grey levels) to their mean:
#: a JPEG's ringing beside a tile's edge stays under it, a row of a photo rarely does.
FLAT_DEVIATION: Final = 2.0
#: Flat lines in a row that separate two parts (pixels at :data:`PANEL_SIDE`).
MIN_GAP: Final = 2
#: Nesting of cuts looked at (a viewer window: bars, then the view, then the picture).
MAX_DEPTH: Final = 5
#: A panel covers at least this fraction of the picture (a 3 x 3 collage's tile about 10%)...
MIN_AREA: Final = 0.03
#: ... has at least this many pixels on its shorter side at :data:`PANEL_SIDE` ...
MIN_SIDE: Final = 40
#: ... is at most this elongated (a line of caption text is not a picture) ...
MAX_ASPECT: Final = 4.0
#: ... and leaves out at least this fraction of the picture: a panel of nearly all of it says
#: nothing the picture's own features do not.
MAX_AREA: Final = 0.9
#: The largest panels kept (a 3 x 3 collage has nine).
MAX_PANELS: Final = 9


def panels(grey: npt.NDArray[np.uint8]) -> list[Box]:
    """The panels of the grey picture ``grey`` (boxes in its pixels), largest first; none for
    a picture that is one part. Larger pictures are read at :data:`PANEL_SIDE`."""
    lines, factor = _reduced(grey)
    height, width = lines.shape
    leaves: list[Box] = []
    _cut(lines, (0, 0, width, height), 0, leaves)
    frame = float(width * height)
    kept = [
        box
        for box in leaves
        if MIN_AREA * frame <= box[2] * box[3] <= MAX_AREA * frame
        and min(box[2], box[3]) >= MIN_SIDE
        and max(box[2], box[3]) <= MAX_ASPECT * min(box[2], box[3])
    ]
    kept.sort(key=lambda box: box[2] * box[3], reverse=True)
    return [_scaled(box, factor, (grey.shape[1], grey.shape[0])) for box in kept[:MAX_PANELS]]


def _reduced(grey: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int16], float]:
    factor = min(1.0, PANEL_SIDE / max(grey.shape))
    if factor < 1.0:
        size = (max(1, round(grey.shape[1] * factor)), max(1, round(grey.shape[0] * factor)))
        reduced = Image.fromarray(grey).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        return np.asarray(reduced, dtype=np.int16), factor
    return grey.astype(np.int16), factor


def _flat(block: npt.NDArray[np.int16]) -> npt.NDArray[np.bool_]:
    """For each row of ``block``: whether it is of one even tone."""
    mean = block.mean(axis=1, keepdims=True, dtype=np.float32)
    deviation: npt.NDArray[np.float32] = np.abs(block - mean).mean(axis=1)
    return deviation <= FLAT_DEVIATION


def _runs(flat: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """The parts (start, end) between flat runs of at least :data:`MIN_GAP` lines, with flat
    margins of any width left out."""
    count = len(flat)
    edges = np.diff(np.concatenate(([0], flat.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    parts: list[tuple[int, int]] = []
    position = 0
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if end - start >= MIN_GAP or start == 0 or end == count:
            if start > position:
                parts.append((position, start))
            position = end
    if position < count:
        parts.append((position, count))
    return parts


def _cut(grey: npt.NDArray[np.int16], box: Box, depth: int, leaves: list[Box]) -> None:
    x, y, w, h = box
    block = grey[y : y + h, x : x + w]
    rows = _runs(_flat(block))
    columns = _runs(_flat(block.T))
    if not rows or not columns:
        return  # all of one tone: nothing to show
    top, bottom, left, right = rows[0][0], rows[-1][1], columns[0][0], columns[-1][1]
    trimmed = (x + left, y + top, right - left, bottom - top)
    if depth >= MAX_DEPTH or (len(rows) == 1 and len(columns) == 1 and trimmed == box):
        leaves.append(trimmed)
        return
    if len(rows) == 1 and len(columns) == 1:
        _cut(grey, trimmed, depth + 1, leaves)  # margins gone, lines may now be flat
        return
    # Rows first: bars, captions and the rows of a grid; then columns within what is left.
    if len(rows) > 1:
        for top, bottom in rows:
            _cut(grey, (x, y + top, w, bottom - top), depth + 1, leaves)
        return
    for left, right in columns:
        _cut(grey, (x + left, y, right - left, h), depth + 1, leaves)


def _scaled(box: Box, factor: float, size: tuple[int, int]) -> Box:
    """``box`` of the reduced grey picture in the pixels of the picture (``size``)."""
    x0, y0 = int(box[0] / factor), int(box[1] / factor)
    x1 = min(size[0], round((box[0] + box[2]) / factor))
    y1 = min(size[1], round((box[1] + box[3]) / factor))
    return x0, y0, x1 - x0, y1 - y0
