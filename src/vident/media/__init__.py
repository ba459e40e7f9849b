"""Decoding media and running the models on them.

ONNX Runtime (the scene embedder, MTCNN, RapidOCR, ONNX face models) would otherwise keep a
telemetry database and device id under ``~/.cache``: outside the data directory, which vident
never writes to. It reads this switch when it starts, so it is set before any module of this
package can import it.
"""

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"
