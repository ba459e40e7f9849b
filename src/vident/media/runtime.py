"""Where vident's libraries may write: inside the data directory, nowhere else.

Investigators run vident on evidence machines where every file written is accounted for, so
no cache, model or temporary file may land in the home folder, the system's temporary folder
or the working directory. Left alone, the libraries would: ONNX Runtime keeps a telemetry
database under ``~/.cache`` (turned off where this package is imported, see
``vident/media/__init__.py``), Python's :mod:`tempfile` and :mod:`multiprocessing` use
``$TMPDIR`` or ``/tmp``, libraries that follow the XDG rules use ``$XDG_CACHE_HOME``, and the
scene model is converted once and kept in the model cache.

:func:`keep_inside` points all of these into the data directory for this process and, through
the environment, for every process it starts (ingest workers, the forkserver, the one-off
process that converts the scene model). The paths come from :class:`vident.config.Settings`.

Which models to use and where converted models live are settings too, handed down explicitly
(:class:`ModelChoice`, :func:`use_models`): media code never reads the environment. The
variables written here are for the child libraries and processes that only look there
(Python's :mod:`tempfile`, XDG caches); ``VIDENT_MODEL_CACHE`` is written so that a vident
process started from this one gets the same settings when it builds its own.
"""

from __future__ import annotations

import multiprocessing.util
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from vident.config import Settings

#: The environment variables this module sets (and puts back on undo).
MODEL_CACHE_ENV: Final = "VIDENT_MODEL_CACHE"
_ENV_NAMES: Final = ("TMPDIR", "XDG_CACHE_HOME", MODEL_CACHE_ENV)
#: A Unix socket path holds at most 107 bytes. :mod:`multiprocessing` puts its forkserver's
#: socket at ``<temp>/pymp-XXXXXXXX/listener-XXXXXXXX`` (32 bytes after the folder).
_SOCKET_PATH_MAX: Final = 107
_SOCKET_SUFFIX: Final = len("/pymp-XXXXXXXX/listener-XXXXXXXX")

_model_dir: Path | None = None


def cache_dir(settings: Settings) -> Path:
    """Caches of libraries that follow the XDG rules, inside the data directory."""
    return settings.data.resolve() / "cache"


def scratch_dir(settings: Settings) -> Path:
    """Temporary files of Python and the libraries (not ``<data>/tmp``, which ingest empties
    when it starts, while the worker pool's socket may already live here)."""
    return cache_dir(settings) / "tmp"


def model_dir() -> Path:
    """Where converted models are kept: the configured folder, else the settings' default.

    :func:`use_models` (called by :func:`keep_inside`, and by ingest workers when they start)
    configures it; unconfigured, it is the default of :class:`Settings`, not the environment.
    """
    if _model_dir is not None:
        return _model_dir
    return Settings.model_construct().model_dir.expanduser().resolve()


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The model settings a process needs, small and picklable for worker initialisation."""

    folder: Path
    face_model: str


def models_of(settings: Settings) -> ModelChoice:
    """The model settings of ``settings``, with the model folder made absolute."""
    return ModelChoice(settings.model_dir.expanduser().resolve(), settings.face_model)


def use_models(choice: ModelChoice) -> Callable[[], None]:
    """Use ``choice`` in this process; returns a function that puts the previous one back."""
    from vident.media.faces.select import use_face_model

    global _model_dir
    saved_dir = _model_dir
    _model_dir = choice.folder
    saved_face = use_face_model(choice.face_model)

    def undo() -> None:
        global _model_dir
        _model_dir = saved_dir
        use_face_model(saved_face)

    return undo


def keep_inside(settings: Settings) -> Callable[[], None]:
    """Send every cache, model and temporary file of this process tree into the data directory.

    The model settings (folder, face model) are applied to this process as well. Returns a
    function that puts the previous state back (a command run inside a longer-lived
    process, such as a test, leaves nothing behind). Nothing is created when the data
    directory does not exist yet (``vident init`` has nothing to cache).
    """
    saved_env = {name: os.environ.get(name) for name in _ENV_NAMES}
    saved_tempdir = tempfile.tempdir

    choice = models_of(settings)
    undo_models = use_models(choice)
    os.environ[MODEL_CACHE_ENV] = str(choice.folder)
    if settings.data.is_dir():
        scratch = scratch_dir(settings)
        scratch.mkdir(parents=True, exist_ok=True)
        if len(str(scratch)) + _SOCKET_SUFFIX > _SOCKET_PATH_MAX:
            # Too deep for the worker pool's socket: multiprocessing gets its folder (a socket
            # and nothing else, removed at exit) where the system keeps temporary files.
            multiprocessing.util.get_temp_dir()
        os.environ["TMPDIR"] = str(scratch)
        os.environ["XDG_CACHE_HOME"] = str(cache_dir(settings))
        tempfile.tempdir = str(scratch)

    def undo() -> None:
        undo_models()
        tempfile.tempdir = saved_tempdir
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    return undo
