"""Folders of images, one sub-folder per class."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from ressearch.config.data import DataConfig
from ressearch.data.messages import first_line, quoted
from ressearch.data.recipes import fit_image, resize
from ressearch.data.sources.base import Array, Raw, resolve_path
from ressearch.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "decode_image", "image_files", "load"]

IMAGE_SUFFIXES: tuple[str, ...] = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def load(config: DataConfig, base_dir: Path | None) -> Raw:
    root = resolve_path(config.location, base_dir, what="image folder")
    if not root.is_dir():
        raise DataError(f"data.source: {root} is not a folder of class sub-folders")
    classes = sorted(
        entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith(".")
    )
    if len(classes) < 2:
        raise DataError(
            f"data.source: image folder {root} needs one sub-folder per class and at least 2, "
            f"found {quoted(classes)}"
        )
    files: list[tuple[int, Path]] = []
    for label, name in enumerate(classes):
        found = image_files(root / name)
        if not found:
            raise DataError(
                f"data.source: class folder {root / name} has no images ({', '.join(IMAGE_SUFFIXES)})"
            )
        files.extend((label, path) for path in found)

    decoded = [decode_image(path) for _, path in files]
    channels = 3 if any(image.shape[-1] == 3 for image in decoded) else 1
    size = list(config.image_size) if config.image_size is not None else list(decoded[0].shape[:2])
    images = []
    for image in decoded:
        if image.shape[-1] != channels:  # grayscale among colour images
            image = np.repeat(image, channels, axis=-1)
        if list(image.shape[:2]) != size:
            image = resize(image[np.newaxis], size)[0]
        images.append(image)
    return Raw(
        x=np.stack(images),
        y=np.asarray([label for label, _ in files], dtype=np.int64),
        fit=partial(fit_image, max_value=255.0, flatten=config.flatten),
        task="classification",
        class_names=tuple(classes),
    )


def decode_image(path: Path) -> Array:
    """The pixels of one image file, height x width x 1 or 3 channels (alpha dropped).

    Raises:
        DataError: the file is not a readable image, naming it.
    """
    import tensorflow as tf

    try:
        image = tf.io.decode_image(tf.io.read_file(str(path)), expand_animations=False).numpy()
    except Exception as error:  # TensorFlow raises its own errors for unreadable files
        raise DataError(f"data.source: {path} is not a readable image ({first_line(error)})") from None
    return np.asarray(image[..., :1] if image.shape[-1] == 2 else image[..., :3])


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name."""
    return sorted(
        entry for entry in folder.iterdir() if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES
    )
