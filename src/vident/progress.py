"""A Rich progress bar for long work: files, MB/s and time left."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class RichProgress:
    """Implements :class:`vident.ingest.pipeline.ProgressSink` on a Rich console."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            TextColumn("{task.fields[files]}/{task.fields[total_files]} files"),
            TransferSpeedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._files = 0

    def start(self, files: int, nbytes: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(
            "ingest", total=max(nbytes, 1), files=0, total_files=files
        )

    def advance(self, files: int, nbytes: int) -> None:
        if self._task is None:
            return
        self._files += files
        task = self._progress.tasks[0]
        # The totals are measured before archives are opened; members can outgrow them.
        total = max(task.total or 0, task.completed + nbytes)
        total_files = max(task.fields["total_files"], self._files)
        self._progress.update(
            self._task, advance=nbytes, total=total, files=self._files, total_files=total_files
        )

    def finish(self, completed: bool = True) -> None:
        """Stop the bar, filled when the work completed, left where it stopped otherwise.

        Always called, on failure too: a bar left running keeps redrawing over the error
        line and leaves the terminal's cursor hidden.
        """
        if completed and self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[0].total)
        self._progress.stop()
