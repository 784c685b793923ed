"""The one description of a network: a frozen, validated, JSON-safe architecture config.

:class:`ArchitectureConfig` describes a residual network completely;
:func:`ressearch.arch.build_model` turns it into a Keras model and nothing else is needed to
rebuild it. It round-trips exactly through ``to_dict``/``from_dict`` and JSON, and carries a
schema version. Block rules come from the block registry. Pydantic only: no Keras, no Optuna.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from ressearch.config.base import SCHEMA_VERSION, FrozenConfig, PositiveInt, Rate, Search
from ressearch.config.blocks import BLOCKS, BlockFamily, block_names, get_block

__all__ = ["ACTIVATIONS", "BLOCK_TYPES", "NUMERIC_EMBEDDINGS", "ArchitectureConfig"]

Activation = Literal["relu", "gelu", "swish", "elu", "selu", "leaky_relu"]
ACTIVATIONS: tuple[str, ...] = ("relu", "gelu", "swish", "elu", "selu", "leaky_relu")
BLOCK_TYPES: tuple[str, ...] = ("basic", "preact", "bottleneck", "plain")  # the built-in families
NumericEmbedding = Literal["none", "periodic", "plr", "piecewise_linear"]
NUMERIC_EMBEDDINGS: tuple[str, ...] = ("none", "periodic", "plr", "piecewise_linear")
# Where a piecewise-linear embedding's bin edges come from (PiecewiseLinearEmbedding.adapt).
BinsFrom = Literal["quantiles", "tree"]


def _registered(name: str) -> str:
    if name not in BLOCKS:
        names = [repr(known) for known in block_names()]
        choices = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
        raise ValueError(f"Input should be {choices}, got {name!r}")
    return name


BlockType = Annotated[str, AfterValidator(_registered)]
CONV_ONLY = Search(ranks=(2, 3))
FROM_DATA = Search(sampled=False, reason="set from the data")
EmbeddingSize = Annotated[int, Field(ge=1, le=1024)]


def _embedding_key(*embeddings: str) -> Search:
    """A size of the numeric embeddings: dense inputs only, sampled only for ``embeddings``."""
    return Search(ranks=(1,), when=("numeric_embedding", embeddings))


class ArchitectureConfig(FrozenConfig):
    """Everything that defines one residual network, apart from its weights.

    The input rank picks the layer family: ``(features,)`` builds dense blocks (tabular rows),
    ``(length, channels)`` Conv1D blocks (sequences), ``(height, width, channels)`` Conv2D blocks.

    Example:
        >>> from ressearch import ArchitectureConfig, build_model
        >>> config = ArchitectureConfig(input_shape=(8, 8, 1), outputs=10, depths=(1, 1), widths=(8, 16))
        >>> build_model(config).count_params() > 0
        True
    """

    _label: ClassVar[str] = "architecture"

    schema_version: Annotated[Literal[1], Search(sampled=False, reason="the config format")] = SCHEMA_VERSION
    name: Annotated[
        str,
        Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", max_length=64),
        Search(sampled=False, reason="the preset's name, else 'resnet'"),
    ] = "resnet"
    input_shape: Annotated[tuple[PositiveInt, ...], Field(min_length=1, max_length=3), FROM_DATA]
    outputs: Annotated[PositiveInt, FROM_DATA]
    head: Annotated[Literal["classification", "regression"], FROM_DATA] = "classification"
    # Regression: the training target's mean and standard deviation. The network learns the
    # standardised target and a final layer maps it back, so predictions are in original units.
    output_mean: Annotated[float, FROM_DATA] = 0.0
    output_std: Annotated[float, Field(gt=0.0), FROM_DATA] = 1.0
    # Dense inputs: the positions of the continuous columns (a CSV's numeric columns, not its
    # one-hot categories), the only ones a numeric embedding embeds. None: every column.
    continuous_features: Annotated[tuple[Annotated[int, Field(ge=0)], ...] | None, FROM_DATA] = None
    # Dense inputs: the text columns that enter as an index (a CSV's data.max_onehot), each its
    # position and table size; each gets a trainable embedding of embedding_dim units.
    categorical_columns: Annotated[
        tuple[tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=2)]], ...], FROM_DATA
    ] = ()

    # Stages: one entry each. A stage after the first halves the resolution (conv inputs).
    depths: Annotated[
        tuple[PositiveInt, ...],
        Field(min_length=1),
        Search(sampled=False, reason="from the space keys stages and depth"),
    ] = (2, 2, 2)
    widths: Annotated[
        tuple[PositiveInt, ...],
        Field(min_length=1),
        Search(sampled=False, reason="from the space keys stages, width and width_growth"),
    ] = (16, 32, 64)

    block_type: BlockType = "basic"
    # None: the block family decides (preact: True; basic, bottleneck, plain: False).
    preactivation: Annotated[bool | None, Search(block_specific=True)] = None
    # Weight layers one shortcut spans ("add layer L to layer L+n"). A bottleneck of n >= 2 is
    # 1x1 reduce, n-2 kxk layers, 1x1 expand; of n = 1, a single kxk layer.
    skip_length: PositiveInt = 2
    # Bottleneck only: block output width / inner width (4 for the ResNet 1x1-3x3-1x1 block;
    # below 1 gives the wide hidden layer of the tabular ResNet, e.g. 0.5 for a factor of 2).
    expansion: Annotated[float, Field(gt=0.0, le=64.0), Search(block_specific=True)] = 4.0
    # identity: option A, zero-padded channels and strided subsampling; projection: option B,
    # a 1x1 weight layer wherever the shape changes.
    shortcut: Literal["identity", "projection"] = "projection"
    kernel_size: Annotated[PositiveInt, CONV_ONLY] = 3
    downsample: Annotated[Literal["stride", "maxpool"], CONV_ONLY] = "stride"

    stem_width: PositiveInt | None = None  # None: the first stage's width
    stem_kernel_size: Annotated[PositiveInt, CONV_ONLY] = 3
    stem_strides: Annotated[PositiveInt, CONV_ONLY] = 1
    stem_pool: Annotated[bool, CONV_ONLY] = False

    activation: Activation = "relu"
    normalization: Literal["batch", "layer", "none"] = "batch"
    # Keras' default 0.99 needs hundreds of steps per epoch; small studies need about 0.9.
    batchnorm_momentum: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.9

    dropout: Rate = 0.0  # between the weight layers of a block
    dropblock_rate: Annotated[Rate, CONV_ONLY] = 0.0  # after each block
    dropblock_size: Annotated[PositiveInt, CONV_ONLY] = 3
    # Drop rate of the last block; linear from 0 over depth. Needs blocks with a shortcut.
    stochastic_depth: Annotated[Rate, Search(needs_shortcut=True)] = 0.0

    # RoR: 1 adds a root shortcut around all stages, 2 also one around each stage, 3 also keeps
    # the ordinary block shortcuts as the third level.
    ror_levels: Literal[0, 1, 2, 3] = 0

    head_units: Annotated[
        tuple[PositiveInt, ...],
        Search(sampled=False, reason="from the space keys head_layers and head_width"),
    ] = ()
    head_dropout: Rate = 0.0

    # Dense inputs: how each continuous column enters the net (Gorishniy et al. 2022, "On
    # Embeddings for Numerical Features in Tabular Deep Learning"). periodic: cos and sin of
    # embedding_frequencies trainable frequencies, initialised N(0, embedding_sigma); plr: those
    # followed by a linear layer of embedding_dim units (per column; shared with embedding_lite)
    # and ReLU; piecewise_linear: an encoding over embedding_bins bins whose edges are quantiles of
    # the training rows, mapped to embedding_dim units. Too large an embedding_sigma ruins training.
    numeric_embedding: Annotated[NumericEmbedding, Search(ranks=(1,))] = "none"
    embedding_dim: Annotated[EmbeddingSize, _embedding_key("plr", "piecewise_linear")] = 24
    embedding_frequencies: Annotated[EmbeddingSize, _embedding_key("periodic", "plr")] = 48
    embedding_sigma: Annotated[float, Field(gt=0.0, le=100.0), _embedding_key("periodic", "plr")] = 0.01
    embedding_lite: Annotated[bool, _embedding_key("plr")] = False
    embedding_bins: Annotated[int, Field(ge=2, le=1024), _embedding_key("piecewise_linear")] = 48
    # piecewise_linear's bin edges: quantiles of the training rows, or tree: per column, the
    # thresholds of a decision tree of at most embedding_bins leaves fitted on that column against
    # the training labels (the paper's target-aware bins), edges where the label changes.
    embedding_bins_from: Annotated[BinsFrom, _embedding_key("piecewise_linear")] = "quantiles"

    # Dense inputs: one network that acts as ensemble_k networks (TabM, Gorishniy et al. 2025;
    # BatchEnsemble, Wen et al. 2020). After the embedding each row is copied to the k members;
    # every dense layer shares its kernel among them and scales its input and output per member,
    # the first one from random signs (normal with an embedding), so members differ from the
    # start; each member has its own output layer. Training minimises the mean of the members'
    # losses; metrics and predictions see the mean of their outputs. 1: a single network.
    ensemble_k: Annotated[int, Field(ge=1, le=256), Search(ranks=(1,))] = 1

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(self.depths) != len(self.widths):
            raise ValueError(
                f"depths and widths need one entry per stage, got {len(self.depths)} depths "
                f"and {len(self.widths)} widths"
            )
        family = self.family
        if family.preactivation is not None and self.preactivation not in (None, family.preactivation):
            order = "pre" if family.preactivation else "post"
            others = [
                repr(other.name)
                for other in BLOCKS.values()
                if other.preactivation is (not family.preactivation)
            ]
            hint = f": use block_type {' or '.join(others)}" if others else ""
            raise ValueError(f"block_type {family.name!r} is {order}-activation{hint}")
        if not family.has_shortcut and self.ror_levels == 3:
            raise ValueError(
                f"ror_levels 3 keeps the block shortcuts as its third level and block_type "
                f"{family.name!r} has none: use ror_levels 0, 1 or 2"
            )
        if not family.has_shortcut and self.stochastic_depth > 0:
            raise ValueError(
                f"stochastic_depth drops residual branches and block_type {family.name!r} has none"
            )
        if self.rank not in family.ranks:
            raise ValueError(
                f"block_type {family.name!r} builds for input ranks {list(family.ranks)}, and "
                f"input_shape {list(self.input_shape)} has rank {self.rank}"
            )
        if self.head != "regression" and (self.output_mean, self.output_std) != (0.0, 1.0):
            raise ValueError(
                "output_mean and output_std rescale a regression head; this head is classification"
            )
        if self.rank == 1 and self.dropblock_rate > 0:
            raise ValueError("dropblock_rate applies to conv inputs (rank 2 or 3), not to dense inputs")
        self._check_embedding()
        if self.rank != 1 and self.ensemble_k != 1:
            raise ValueError(
                f"ensemble_k applies to dense inputs (rank 1), and input_shape {list(self.input_shape)} "
                f"has rank {self.rank}: use ensemble_k 1"
            )
        return self

    def _check_embedding(self) -> None:
        columns = self.continuous_features
        if self.rank != 1 and (self.numeric_embedding != "none" or columns is not None):
            what = "continuous_features" if columns is not None else "numeric_embedding"
            raise ValueError(
                f"{what} applies to dense inputs (rank 1), and input_shape {list(self.input_shape)} "
                f"has rank {self.rank}"
            )
        categorical = [position for position, _ in self.categorical_columns]
        if categorical:
            if self.rank != 1:
                raise ValueError(f"categorical_columns apply to dense inputs (rank 1), not rank {self.rank}")
            if any(index >= self.input_shape[0] for index in categorical) or categorical != sorted(
                set(categorical)
            ):
                raise ValueError(
                    f"categorical_columns are increasing column positions below the input's "
                    f"{self.input_shape[0]} columns, got {categorical}"
                )
            if columns is None or set(columns) & set(categorical):
                raise ValueError(
                    "continuous_features must name the continuous columns, apart from categorical_columns"
                )
        if columns is None:
            return
        if any(index >= self.input_shape[0] for index in columns):
            raise ValueError(
                f"continuous_features are column positions below the input's {self.input_shape[0]} "
                f"columns, got {list(columns)}"
            )
        if list(columns) != sorted(set(columns)):
            raise ValueError(f"continuous_features must increase without repeats, got {list(columns)}")
        if not columns and self.numeric_embedding != "none":
            raise ValueError(
                f"numeric_embedding {self.numeric_embedding!r} embeds continuous columns and this "
                "input has none (continuous_features is empty): use numeric_embedding 'none'"
            )

    @property
    def family(self) -> BlockFamily:
        """The registered block family of ``block_type``."""
        return get_block(self.block_type)

    @property
    def rank(self) -> int:
        """1 for vectors (dense), 2 for sequences (Conv1D), 3 for images (Conv2D)."""
        return len(self.input_shape)

    @property
    def stages(self) -> int:
        return len(self.depths)

    @property
    def uses_preactivation(self) -> bool:
        if self.preactivation is not None:
            return self.preactivation
        return bool(self.family.preactivation)

    @property
    def has_shortcuts(self) -> bool:
        return self.family.has_shortcut

    @property
    def rescales_output(self) -> bool:
        """Whether the network ends in a layer that maps standardised predictions back to units."""
        return self.head == "regression" and (self.output_mean, self.output_std) != (0.0, 1.0)

    @property
    def embedded_columns(self) -> tuple[int, ...]:
        """The input columns a numeric embedding embeds (none without an embedding)."""
        if self.numeric_embedding == "none":
            return ()
        if self.continuous_features is None:
            return tuple(range(self.input_shape[0]))
        return self.continuous_features

    @property
    def first_width(self) -> int:
        return self.stem_width if self.stem_width is not None else self.widths[0]

    def describe(self) -> str:
        """One line a person reads at a glance: block type, stages x blocks, widths, and whatever
        differs from a plain residual net (skip length, RoR, regularisers, head).

        Example:
            >>> ArchitectureConfig(input_shape=(8, 8, 1), outputs=10, depths=(2, 2), widths=(16, 32),
            ...                    ror_levels=1, dropout=0.125).describe()
            'basic conv2d, 2x2 blocks, widths 16-32, skip 2, RoR 1, dropout 0.12'
            >>> ArchitectureConfig(input_shape=(30,), outputs=1, depths=(3, 1), widths=(64, 64),
            ...                    block_type="bottleneck", expansion=0.5, head_units=(128,)).describe()
            'bottleneck dense, 3+1 blocks, widths 64-64, skip 2, expansion 0.5, head 128'
            >>> ArchitectureConfig(input_shape=(30,), outputs=1, depths=(2,), widths=(64,),
            ...                    numeric_embedding="plr", embedding_lite=True).describe()
            'basic dense, 1x2 blocks, widths 64, skip 2, embedding plr lite 48 frequencies sigma 0.01 -> 24'
            >>> ArchitectureConfig(input_shape=(30,), outputs=1, depths=(2,), widths=(64,),
            ...                    ensemble_k=32).describe()
            'basic dense, 1x2 blocks, widths 64, skip 2, ensemble 32'
        """
        kind = {1: "dense", 2: "conv1d", 3: "conv2d"}[self.rank]
        if len(set(self.depths)) == 1:
            blocks = f"{self.stages}x{self.depths[0]}"
        else:
            blocks = "+".join(map(str, self.depths))
        parts = [
            f"{self.block_type} {kind}",
            f"{blocks} blocks",
            f"widths {'-'.join(map(str, self.widths))}",
            f"skip {self.skip_length}",
        ]
        if "expansion" in self.family.uses:
            parts.append(f"expansion {self.expansion:g}")
        if self.numeric_embedding != "none":
            parts.append(f"embedding {self._embedding_sizes()}")
        if self.ensemble_k > 1:
            parts.append(f"ensemble {self.ensemble_k}")
        optional = (
            ("RoR", self.ror_levels),
            ("dropout", self.dropout),
            ("dropblock", self.dropblock_rate),
            ("stochastic depth", self.stochastic_depth),
        )
        parts.extend(f"{label} {value:.2g}" for label, value in optional if value)
        if self.head_units:
            parts.append(f"head {'-'.join(map(str, self.head_units))}")
        return ", ".join(parts)

    def _embedding_sizes(self) -> str:
        if self.numeric_embedding == "piecewise_linear":
            tree = " (tree)" if self.embedding_bins_from == "tree" else ""
            return f"piecewise_linear {self.embedding_bins} bins{tree} -> {self.embedding_dim}"
        periodic = f"{self.embedding_frequencies} frequencies sigma {self.embedding_sigma:g}"
        if self.numeric_embedding == "periodic":
            return f"periodic {periodic}"
        lite = " lite" if self.embedding_lite else ""
        return f"plr{lite} {periodic} -> {self.embedding_dim}"
