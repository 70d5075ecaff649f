"""Choice of the implementation behind the CALUa and CALUm forward and backward passes.

"numpy" is the reference implementation in `calu_np.layers`. The engine is chosen with
`set_engine(name)` or the environment variable CALU_NP_ENGINE, read at the first use.
"""

import os

from . import layers

ENGINES = ("numpy",)
_current = None


def set_engine(name):
    """Select the engine used by every network from now on. Raises ValueError for an unknown name."""
    global _current
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}: expected one of {', '.join(ENGINES)}")
    _current = name


def get_engine():
    """Return the name of the engine in use, reading CALU_NP_ENGINE on the first call."""
    global _current
    if _current is None:
        set_engine(os.environ.get("CALU_NP_ENGINE", ENGINES[0]))
    return _current


def layer_forward(kind, x, M):
    """Run the forward pass of a layer of `kind` ("CALUa" or "CALUm") with the current engine."""
    get_engine()
    return layers.FORWARD[kind](x, M)


def layer_backward(kind, G_y, cache):
    """Run the backward pass matching `layer_forward`. Returns (G_x, G_M)."""
    get_engine()
    return layers.BACKWARD[kind](G_y, cache)
