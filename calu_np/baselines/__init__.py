"""Baseline models trained by the same engine as CALU, for `calu-np compare`.

One module per family, each a set of pure functions `forward(x, params) -> (y, cache)` and
`backward(G_y, cache) -> grads` (keys match params, plus "x"): dense layers with tanh, ReLU or
identity activations, NAC and NALU (Trask et al. 2018), NAU and NMU (Madsen and Johansen
2020) and the real NPU (Heim et al. 2020). `model` stacks them from text such as
"2 5:NMU 1:NAU" and `fit` trains a stack with Adam.
"""

from .fit import FitConfig, FitResult, fit
from .model import LAYER_KINDS, BaselineModel, parse_stack

# Each baseline as a stack template. `hidden` is the width of the task's first CALU layer, so
# the arithmetic units get the same shape as the CALU network they are compared with; the MLPs
# use the talk's 100:TANH 100:TANH (or RELU) with an identity output layer.
BASELINES = {
    "tanh": "{n_in} 100:TANH 100:TANH {n_out}:IDENTITY",
    "relu": "{n_in} 100:RELU 100:RELU {n_out}:IDENTITY",
    "nac": "{n_in} {hidden}:NAC {n_out}:NAC",
    "nalu": "{n_in} {hidden}:NALU {n_out}:NALU",
    "nau": "{n_in} {hidden}:NAU {n_out}:NAU",
    "nmu": "{n_in} {hidden}:NMU {n_out}:NAU",
    "npu": "{n_in} {hidden}:NPU {n_out}:NAU",
}


def baseline_stack(name, n_in, hidden, n_out):
    """Return the layer stack text of baseline `name` for a task of the given sizes."""
    try:
        template = BASELINES[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}: expected one of {', '.join(BASELINES)}") from None
    return template.format(n_in=n_in, hidden=hidden, n_out=n_out)


__all__ = ["BASELINES", "LAYER_KINDS", "BaselineModel", "FitConfig", "FitResult", "baseline_stack", "fit", "parse_stack"]
