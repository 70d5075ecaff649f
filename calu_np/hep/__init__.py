"""Dimuon events from pp → H → μ+μ− and pp → Z/γ* → μ+μ−, for a Higgs-versus-Z classifier.

Features are the four-momenta (E, px, py, pz) of the μ+ and then of the μ−, in GeV. Labels
are 1 for Higgs and 0 for Z. Generating new events needs the optional ``pythia8mc`` package;
loading the bundled samples does not.
"""

from calu_np.hep.generate import generate_events
from calu_np.hep.physics import FEATURE_NAMES, invariant_mass, minkowski_dot
from calu_np.hep.samples import (
    LABELS,
    labels,
    load_bundled,
    load_bundled_classification,
    load_sample,
    save_sample,
)

__all__ = [
    "FEATURE_NAMES",
    "LABELS",
    "generate_events",
    "invariant_mass",
    "labels",
    "load_bundled",
    "load_bundled_classification",
    "load_sample",
    "minkowski_dot",
    "save_sample",
]
