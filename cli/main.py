"""Entry point of the `calu-np` command. Subcommands are imported only when they run, so
`calu-np --help` starts without loading NumPy or compiling kernels."""

import importlib
import os

import click

# The commands multiply small matrices (at most a few hundred rows by a few hundred columns),
# where BLAS threads cost more in synchronisation than they save, and worker processes (--jobs)
# would compete with them for the cores. Set before NumPy loads; a value the user set wins.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Command name -> (module inside calu_np_cli, attribute, one-line help for the listing).
COMMANDS = {
    "train": ("train", "train", "Train a CALU network on one of the talk's tasks and print the learned formula."),
    "data": ("data", "data", "Generate and check H/Z → μμ event files (generation needs Pythia 8)."),
    "fit": ("fit", "fit", "Discover an exact law in a CSV or .npz table and print it."),
    "formula": ("formula", "formula", "Print the law of a saved model as text, LaTeX, Python or SymPy."),
    "predict": ("predict", "predict", "Evaluate a saved model on the rows of a CSV or .npz table."),
    "compare": ("compare", "compare", "Train CALU and the baseline models on the same data and print the talk's error table."),
    "bench": ("bench", "bench", "Run benchmark sweeps (the NALM single-module arithmetic task) and write their tables."),
}


class LazyGroup(click.Group):
    """A click group that imports each subcommand's module on first use."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module_name, attribute, _ = COMMANDS[name]
        module = importlib.import_module(f"{__package__}.{module_name}")
        return getattr(module, attribute)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="calu-np", prog_name="calu-np")
def main():
    """calu-np: neural networks that learn exact arithmetic laws (CALU)."""


if __name__ == "__main__":
    main()
