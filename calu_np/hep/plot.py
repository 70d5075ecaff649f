"""Plot a learned CALU feature against the true invariant mass at 13 and 100 TeV.

Needs the optional ``matplotlib`` package (``pip install calu-np[plot]``), imported only
inside the function.
"""

import numpy as np

from calu_np.hep.classifier import SCALE_GEV
from calu_np.hep.physics import invariant_mass
from calu_np.io import save_figure


def plot_feature_vs_mass(model, samples, feature, path, title=None):
    """Write a scatter plot of CALUa feature `feature` against m_μμ to the image file `path`.

    `model` is a trained ``Classifier`` with a CALU front end; `samples` maps a label such as
    "13 TeV" to (features in SCALE_GEV units, class labels). Returns `path`.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("plotting needs matplotlib: pip install 'calu-np[plot]'") from err

    figure, axes = plt.subplots(1, len(samples), figsize=(5 * len(samples), 4), sharey=True, squeeze=False)
    for ax, (label, (x, y)) in zip(axes[0], samples.items()):
        mass = invariant_mass(x * SCALE_GEV)
        values = model.features(x)[:, feature]
        for cls, name, colour in ((1, "Higgs", "tab:red"), (0, "Z", "tab:blue")):
            chosen = y == cls
            ax.scatter(mass[chosen], values[chosen], s=3, alpha=0.5, color=colour, label=name)
        ax.set_title(label)
        ax.set_xlabel("true invariant mass m_μμ (GeV)")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"learned feature f{feature} (units of (100 GeV)²)")
    axes[0][0].legend(markerscale=4)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)
    return path


def mass_squared_over_two(x):
    """Return m²/2 in SCALE_GEV² units, the value p1·p2 takes for massless muons."""
    return 0.5 * (invariant_mass(np.asarray(x) * SCALE_GEV) / SCALE_GEV) ** 2
