"""Faces: find every face in a picture, describe it, and embed it for search by face.

:func:`~vident.media.faces.select.configured_face_model` gives the model in use; every model
answers :meth:`~vident.media.faces.base.FaceModel.detect_and_embed`. Nothing here loads
weights at import time.
"""

from vident.media.faces.base import DetectedFace, FaceModel, FaceResult
from vident.media.faces.select import DEFAULT_FACE_MODEL, configured_face_model, load_face_model

__all__ = [
    "DEFAULT_FACE_MODEL",
    "DetectedFace",
    "FaceModel",
    "FaceResult",
    "configured_face_model",
    "load_face_model",
]
