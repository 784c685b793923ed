"""Options that several commands share: the storage, a study name, the artifact folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["ArtifactsOption", "StorageOption", "StudyName"]

StorageOption = Annotated[
    str | None,
    typer.Option(
        "--storage",
        metavar="URL",
        help="Database URL (default: $RESSEARCH_STORAGE, else sqlite:///ressearch.db).",
    ),
]
StudyName = Annotated[str, typer.Argument(help="Study name.")]
ArtifactsOption = Annotated[
    Path | None,
    typer.Option(
        metavar="DIR",
        help="Folder of trained models (default: beside the SQLite file, or $RESSEARCH_ARTIFACTS).",
    ),
]
