"""The data section: bad sources and keys are one line naming the key."""

from __future__ import annotations

import pytest

from ressearch.data import (
    KERAS_DATASETS,
    DataConfig,
)
from ressearch.errors import ConfigError
from tests.helpers import one_line


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"source": "s3:bucket/file"}, "data.source: expected builtin:NAME, csv:PATH, npz:PATH"),
        (
            {"source": "builtin:mnist"},
            "data.source: unknown builtin dataset 'mnist'; known are breast_cancer",
        ),
        (
            {"source": "keras:imagenet"},
            "unknown keras dataset 'imagenet'; known are cifar10, cifar100, mnist",
        ),
        ({"source": "csv:data.csv"}, "data: target is required for a csv: source"),
        ({"source": "builtin:iris", "target": "y"}, "target and features apply to csv: sources only"),
        (
            {"source": "builtin:iris", "validation_split": 1.0},
            "data.validation_split: Input should be less than 1",
        ),
        ({"source": "builtin:iris", "image_size": [8, 8]}, "image_size applies to images: sources only"),
        ({"source": "csv:d.csv", "target": "y", "features": ["y"]}, "must not include the target column 'y'"),
        ({"source": "builtin:iris", "colour": "red"}, "data.colour: unknown key"),
        (
            {"source": "builtin:iris", "scaling": "minmax"},
            "data.scaling: Input should be 'standard', 'robust' or 'quantile'",
        ),
        ({"source": "builtin:iris", "clip": "maybe"}, "data.clip: Input should be a valid boolean"),
        (
            {"source": "images:pics", "scaling": "robust"},
            "scaling and clip apply to rows of columns, not to images: images",
        ),
    ],
)
def test_bad_data_configs_name_the_key_and_what_is_allowed(data, expected):
    with pytest.raises(ConfigError) as raised:
        DataConfig.from_dict(data)
    assert expected in one_line(raised.value)


def test_data_config_round_trips():
    config = DataConfig(source="csv:x.csv", target="y", features=("a", "b"), max_rows=100)
    assert DataConfig.from_json(config.to_json()) == config
    assert KERAS_DATASETS == ("cifar10", "cifar100", "mnist", "fashion_mnist")
