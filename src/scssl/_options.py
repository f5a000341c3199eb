"""The option sets of scssl's string arguments: one ``Literal`` each, checked by one function.

Signatures use these types; error messages and option tuples are derived from them
with :func:`options`, so a new option is added in exactly one place.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

ContrastiveMethod = Literal["simclr", "byol", "barlow_twins", "vicreg"]
#: the methods a MaskedContrastive term can use (BYOL needs a target network)
SymmetricContrastiveMethod = Literal["simclr", "barlow_twins", "vicreg"]
MaskingKind = Literal["random", "random_shared", "gene_programme", "gp_to_gp", "gp_to_tf"]
LossOn = Literal["masked", "all"]
ReconstructionKind = Literal["mse", "nb"]
# Lightning precisions scssl's losses are tested under (float32 losses, see nn.full_precision)
TrainingPrecision = Literal["32-true", "bf16-mixed"]
DecoderOutput = Literal["values", "proportions"]
ClassWeight = Literal["balanced"]
ProgrammeEvaluation = Literal["masked", "isolated"]
TFContext = Literal["targets", "all"]
ResponseClass = Literal["resistant", "sensitive"]
AttributionBaseline = Literal["zeros", "bulk_mean"]
SingleCellInput = Literal["counts", "log", "scaled"]
Scaling = Literal["sample", "none"]
GDSCRelease = Literal["GDSC1", "GDSC2"]


def options(literal: Any) -> tuple[str, ...]:
    """The values of a ``Literal`` type.

    Examples
    --------
    >>> options(LossOn)
    ('masked', 'all')
    """
    return get_args(literal)


def check_option(name: str, value: Any, literal: Any) -> None:
    """Fail with the list of options unless ``value`` is one of ``literal``'s values.

    Examples
    --------
    >>> check_option("loss_on", "all", LossOn)
    >>> check_option("loss_on", "some", LossOn)
    Traceback (most recent call last):
    ...
    ValueError: loss_on must be one of ('masked', 'all'), got 'some'
    """
    if value not in options(literal):
        raise ValueError(f"{name} must be one of {options(literal)}, got {value!r}")
