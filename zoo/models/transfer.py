"""Transfer learning: start a model from the tensors of another trained model.

Every tensor of the new model (parameters and buffers) whose name and shape match one of the
source's is copied from it; the rest keep their fresh initialisation. Names match because
the families build their networks alike: ``network.encoder.*`` in ``autoencoder``, ``vae``
and ``deep-svdd``; ``network.trunk.*`` in a ``transformer`` that generates text and in one
that classifies it (the generator's token embedding has one more row, its start symbol, so
it is skipped); the whole ``network.*`` of two ``cnn`` classifiers. Where one model has
layers the other lacks at the same place (an autoencoder's dropout layers, which shift the
indices of Deep SVDD's ``network.encoder``), the layers holding tensors are paired in order
(:func:`layer_renames`). The report lists what was loaded (and from which name, where it
differs), which source tensors were skipped (no tensor of that name, or another shape) and
which new ones were left as initialised.

Optionally part of the model is frozen (its parameters get no gradient, so they never change;
batch-norm running statistics in it still follow the new data):

- ``encoder``: every parameter under a module named ``encoder``;
- ``backbone``: every parameter but the head's, the last layer (in the order the model
  defines them) that holds parameters.

``backbone_lr_scale`` trains the parameters outside the head at ``lr`` times it, through a
parameter group of the optimiser (:func:`scale_learning_rate`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError

FREEZE_CHOICES = ("encoder", "backbone")


@dataclass
class TransferReport:
    """What :func:`initialize_from` did, tensor by tensor (names sorted)."""

    source: str
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    freeze: str | None = None
    backbone_lr_scale: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line: the counts, then the names skipped and left new."""
        parts = [f"initialised from {self.source}: {len(self.loaded)} tensors loaded"
                 f"{f' ({len(self.renamed)} by layer order)' if self.renamed else ''}, "
                 f"{len(self.skipped)} skipped, {len(self.new)} newly initialised"]
        if self.frozen:
            parts.append(f"{len(self.frozen)} parameters frozen ({self.freeze})")
        if self.backbone_lr_scale != 1.0:
            parts.append(f"backbone lr x{self.backbone_lr_scale:g}")
        names = [f"{label}: {', '.join(found)}" for label, found
                 in (("skipped", self.skipped), ("new", self.new)) if found]
        return "; ".join(parts) + ("" if not names else " (" + "; ".join(names) + ")")


def initialize_from(model: Any, source: Any, source_name: str, *, freeze: str | None = None,
                    backbone_lr_scale: float = 1.0) -> TransferReport:
    """Copy every tensor of ``source`` whose name and shape match into ``model``; freeze and
    scale as the module says.

    Args:
        model: A freshly built gradient-trained model (a ``ZooModule``).
        source: A trained one, of any model family.
        source_name: How the report names the source (its run id or package).
        freeze: ``None``, ``"encoder"`` or ``"backbone"``.
        backbone_lr_scale: Multiplier of ``lr`` for the parameters outside the head.

    Raises:
        ZooError: A model without tensors (a scikit-learn baseline, an ensemble), nothing to
            load, nothing to freeze, a bad choice or scale, or a model whose optimiser the
            scale cannot reach.
    """
    if freeze is not None and freeze not in FREEZE_CHOICES:
        raise ZooError(f"--freeze {freeze!r} is not one of {', '.join(FREEZE_CHOICES)}")
    if not backbone_lr_scale > 0:
        raise ZooError(f"--backbone-lr-scale {backbone_lr_scale} must be > 0")
    for role, which in (("model", model), ("source", source)):
        if not isinstance(which, nn.Module):
            raise ZooError(f"the {role} {getattr(which, 'zoo_name', '')!r} has no tensors to "
                           "transfer; --init-from works between gradient-trained models")
    if backbone_lr_scale != 1.0 and getattr(model, "runs_own_optimisers", False):
        raise ZooError(f"model {model.zoo_name!r} runs its own optimisers; "
                       "--backbone-lr-scale works for models with one optimiser")
    report = _copy_matching(model, source, source_name)
    if not report.loaded:
        raise ZooError(f"no tensor of {source_name} ({source.zoo_name}) matches model "
                       f"{model.zoo_name!r} in name and shape; nothing to initialise from")
    if freeze is not None:
        report.freeze, report.frozen = freeze, _freeze(model, freeze)
    report.backbone_lr_scale = backbone_lr_scale
    model.scaled_parameters = frozenset(backbone_parameters(model))
    model.backbone_lr_scale = backbone_lr_scale
    return report


def _copy_matching(model: nn.Module, source: nn.Module, source_name: str) -> TransferReport:
    own, state = model.state_dict(), source.state_dict()
    # where a parent's layers pair in order, that pairing is right even if an index of one
    # model names another kind of layer in the other
    names = {name: name for name in own if name in state} | layer_renames(source, model)
    matching = {target: state[origin] for target, origin in names.items()
                if own[target].shape == state[origin].shape}
    model.load_state_dict(matching, strict=False)
    used = {names[target] for target in matching}
    return TransferReport(source=source_name, loaded=sorted(matching),
                          skipped=sorted(set(state) - used),
                          new=sorted(set(own) - set(matching)),
                          renamed={t: names[t] for t in sorted(matching) if names[t] != t})


def layer_renames(source: nn.Module, target: nn.Module) -> dict[str, str]:
    """Target tensor name -> source tensor name for layers that sit at other positions.

    Under one parent module (``network.encoder``), the layers holding tensors are paired in
    order when both models have the same kinds of them in the same order (Linear,
    BatchNorm1d, Linear ...) but at other indices: an autoencoder's encoder, with dropout
    layers, into Deep SVDD's, without. A tensor maps to the one of the same kind in its
    paired layer (``weight`` to ``weight``).
    """
    theirs, ours = _layers_by_parent(source), _layers_by_parent(target)
    renames: dict[str, str] = {}
    for parent, layers in ours.items():
        paired = theirs.get(parent, [])
        if [kind for _, kind, _ in paired] != [kind for _, kind, _ in layers]:
            continue
        for (origin, _, found), (name, _, leaves) in zip(paired, layers, strict=True):
            renames.update({f"{name}.{leaf}": f"{origin}.{leaf}" for leaf in leaves
                            if leaf in found})
    return renames


def _layers_by_parent(model: nn.Module) -> dict[str, list[tuple[str, str, list[str]]]]:
    """Per parent module's name, its layers that hold tensors themselves, in order: name,
    class name and the tensors' own names."""
    layers: dict[str, list[tuple[str, str, list[str]]]] = {}
    for name, module in model.named_modules():
        leaves = [leaf for leaf, _ in (*module.named_parameters(recurse=False),
                                       *module.named_buffers(recurse=False))]
        if leaves and name:
            parent = name.rpartition(".")[0]
            layers.setdefault(parent, []).append((name, type(module).__name__, leaves))
    return layers


def head_parameters(model: nn.Module) -> list[str]:
    """The names of the head's parameters: those of the last module (in definition order)
    that holds parameters itself."""
    head: list[str] = []
    for prefix, module in model.named_modules():
        own = [f"{prefix}.{name}" if prefix else name
               for name, _ in module.named_parameters(recurse=False)]
        if own:
            head = own
    return head


def backbone_parameters(model: nn.Module) -> list[str]:
    """The names of every parameter but the head's (:func:`head_parameters`)."""
    head = set(head_parameters(model))
    return [name for name, _ in model.named_parameters() if name not in head]


def _freeze(model: nn.Module, part: str) -> list[str]:
    if part == "encoder":
        names = [name for name, _ in model.named_parameters() if "encoder" in name.split(".")]
    else:
        names = backbone_parameters(model)
    if not names:
        raise ZooError(f"model {getattr(model, 'zoo_name', '')!r} has no {part} parameters to "
                       f"freeze; valid: {', '.join(FREEZE_CHOICES)} where the model has them")
    chosen = set(names)
    if chosen == {name for name, _ in model.named_parameters()}:
        raise ZooError(f"--freeze {part} would freeze every parameter of model "
                       f"{getattr(model, 'zoo_name', '')!r}, leaving nothing to train; "
                       f"freeze {' or '.join(p for p in FREEZE_CHOICES if p != part)} or nothing")
    for name, parameter in model.named_parameters():
        if name in chosen:
            parameter.requires_grad_(False)
    return sorted(names)


def scale_learning_rate(optimizer: torch.optim.Optimizer, scaled: list[nn.Parameter],
                        scale: float) -> torch.optim.Optimizer:
    """Move ``scaled`` out of each of ``optimizer``'s parameter groups into a copy of that
    group whose learning rate is ``scale`` times its own (before the first step and before
    a scheduler reads the groups' rates)."""
    chosen = {id(p) for p in scaled}
    for group in list(optimizer.param_groups):
        moved = [p for p in group["params"] if id(p) in chosen]
        if not moved:
            continue
        group["params"] = [p for p in group["params"] if id(p) not in chosen]
        options = {key: value for key, value in group.items() if key != "params"}
        optimizer.add_param_group({**options, "params": moved, "lr": group["lr"] * scale})
    optimizer.param_groups[:] = [g for g in optimizer.param_groups if g["params"]]
    return optimizer
