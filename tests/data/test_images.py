"""Image-folder sources: classes from sub-folders, resizing, scaling, bad folders."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ressearch.data import (
    apply_preprocessing,
)
from tests.data.helpers import data_error, load, write_images


def test_image_folders_load_as_classes_resized_and_scaled(tmp_path):
    write_images(tmp_path / "pets")
    dataset = load(base_dir=tmp_path, source="images:pets")
    assert dataset.class_names == ("cat", "dog")
    assert dataset.input_shape == (5, 6, 3)  # the first image's size
    assert dataset.summary["rows_loaded"] == 8
    assert np.bincount(dataset.y_val).tolist() == [1, 1]
    assert dataset.x_train.min() >= 0.0 and dataset.x_train.max() <= 1.0
    cat = np.asarray(Image.open(tmp_path / "pets" / "cat" / "0.png"))
    both = np.concatenate([dataset.x_train, dataset.x_val])
    assert sum(np.array_equal(row, cat / np.float32(255)) for row in both) == 1

    sized = load(base_dir=tmp_path, source="images:pets", image_size=[8, 8], flatten=True)
    assert sized.input_shape == (192,)
    assert apply_preprocessing(sized.preprocessing, cat[np.newaxis]).shape == (1, 192)


def test_bad_image_folders_are_named(tmp_path):
    (tmp_path / "one" / "only").mkdir(parents=True)
    message = data_error(base_dir=tmp_path, source="images:one")
    assert f"image folder {tmp_path / 'one'} needs one sub-folder per class and at least 2" in message

    write_images(tmp_path / "pets")
    (tmp_path / "pets" / "bird").mkdir()
    message = data_error(base_dir=tmp_path, source="images:pets")
    assert f"class folder {tmp_path / 'pets' / 'bird'} has no images" in message

    (tmp_path / "pets" / "bird" / "0.png").write_bytes(b"not a png")
    message = data_error(base_dir=tmp_path, source="images:pets")
    assert f"{tmp_path / 'pets' / 'bird' / '0.png'} is not a readable image" in message
    assert "image folder" in data_error(source=f"images:{tmp_path / 'absent'}")
