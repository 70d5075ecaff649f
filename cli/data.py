"""`calu-np data hep`: generate H/Z → μμ events with Pythia 8 (optional extra [hep])."""

import click

from .common import output_path_callback, progress_bar


@click.group()
def data():
    """Generate and check H/Z → μμ event files."""


@data.command()
@click.option("--process", required=True, type=click.Choice(["higgs", "z"]),
              help="gg → H → μμ, or Z/γ* → μμ with 60 < m_μμ < 120 GeV.")
@click.option("--sqrt-s", "sqrt_s", type=click.FloatRange(min=0, min_open=True), default=13000.0, show_default=True,
              help="Collision energy √s in GeV.")
@click.option("--events", type=click.IntRange(min=1), default=1000, show_default=True, help="Number of events.")
@click.option("--seed", type=click.IntRange(min=1, max=900_000_000), default=1, show_default=True,
              help="Pythia random seed (1 to 900000000; Pythia reads 0 as a seed from the clock).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), callback=output_path_callback,
              help="Output .npz file: features (events, 8) = (E, px, py, pz) of μ+ then μ− in GeV, and metadata.")
def hep(process, sqrt_s, events, seed, out):
    """Generate pp → H/Z → μμ events with Pythia 8 and write their muon four-vectors."""
    from calu_np.hep import generate_events, save_sample

    done = 0
    with progress_bar(events, f"{process} at {sqrt_s / 1000:g} TeV") as bar:
        def progress(n_done):
            nonlocal done
            bar.update(n_done - done)
            done = n_done

        try:
            features, metadata = generate_events(process, sqrt_s, events, seed, progress=progress)
        except ImportError as error:
            raise click.ClickException(str(error)) from None
        except (ValueError, RuntimeError) as error:
            raise click.ClickException(str(error)) from None
    try:
        save_sample(out, features, metadata)
    except (ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {len(features)} {process} events at √s = {sqrt_s:g} GeV to {out}")


@data.command()
@click.argument("path", type=click.Path(dir_okay=False))
def check(path):
    """Validate an event file and print what it holds.

    The file must be an .npz written by `calu-np data hep` (or `calu_np.hep.save_sample`):
    features of shape (events, 8), finite, with both muons present and E ≥ |p|.
    """
    import numpy as np

    from calu_np.hep import load_sample
    from calu_np.hep.physics import invariant_mass

    try:
        features, metadata = load_sample(path)
    except ValueError as error:
        raise click.ClickException(str(error)) from None

    mass = invariant_mass(features)
    process = metadata.get("process", "unknown process")
    sqrt_s = metadata.get("sqrt_s")
    energy = f" at √s = {sqrt_s:g} GeV" if isinstance(sqrt_s, (int, float)) else ""
    click.echo(f"{path}: {len(features)} {process} events{energy}")
    click.echo(f"muon-pair mass: median {np.median(mass):.2f} GeV, "
               f"1st to 99th percentile {np.percentile(mass, 1):.2f} to {np.percentile(mass, 99):.2f} GeV")
    click.echo(f"largest muon energy: {np.max(features[:, [0, 4]]):.1f} GeV")
