"""The backbone interface: architecture families build encoders and decoders for methods.

A backbone plugin registers a ``ModelSpec(kind="backbone", builder="pkg.mod:MyBackbone")``.
Methods (VAE, GAN, autoencoder detectors ...) ask for it by name::

    encoder = get_backbone("mlp").encoder(info, out_dim=32)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from zoo.errors import ZooError, unknown_name_message
from zoo.models import get_backbone_spec
from zoo.plugins.specs import import_implementation

if TYPE_CHECKING:
    from torch import nn

    from zoo.data.types import DataInfo


class Backbone(Protocol):
    """Builds the networks of one architecture family for any modality it declares.

    Sequence families (``rnn``, ``transformer``) also build a causal next-step network; see
    :class:`SequenceBackbone`.
    """

    def encoder(self, info: DataInfo, out_dim: int, **hparams: Any) -> nn.Module:
        """A network mapping a batch of samples ``(N, *info.shape)`` to ``(N, out_dim)``."""
        ...

    def decoder(self, in_dim: int, info: DataInfo, **hparams: Any) -> nn.Module:
        """A network mapping ``(N, in_dim)`` to a batch of samples ``(N, *info.shape)``."""
        ...


class SequenceBackbone(Backbone, Protocol):
    """A backbone for sequences: token windows (``text``, samples of shape ``(L,)``, int64 ids
    below ``info.vocab_size``) and series (``timeseries``, samples of shape ``(L, C)``).

    ``encoder`` takes such samples; ``decoder`` builds series (text has no decoder: a method
    that generates text uses the causal form).
    """

    def causal(self, info: DataInfo, out_dim: int, **hparams: Any) -> nn.Module:
        """A network mapping inputs ``(N, T)`` (text: ids up to ``info.vocab_size``, which is
        the start symbol) or ``(N, T, C)`` (series) to ``(N, T, out_dim)``, output ``t``
        depending on inputs ``0..t`` only, for any ``T <= info.shape[0]``."""
        ...


def get_backbone(name: str) -> Backbone:
    """The builder of a registered backbone; any other name lists the backbones."""
    spec = get_backbone_spec(name)
    if not spec.builder:
        raise ZooError(f"backbone {name!r} (plugin {spec.plugin}) names no builder")
    return import_implementation("backbone", name, spec.plugin, spec.builder)()


def check_option_names(backbone: str, options: Iterable[str], valid: Iterable[str]) -> None:
    """Refuse the first of ``options`` that ``backbone`` does not take: a one-line
    :class:`ZooError` naming the close matches and the valid names."""
    valid = list(valid)
    for name in options:
        if name not in valid:
            raise ZooError(unknown_name_message("option", name, valid,
                                                f" for backbone {backbone!r}"))
