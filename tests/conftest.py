"""Shared pytest setup: a deterministic hypothesis profile for continuous integration.

Locally, hypothesis draws new examples on every run and replays the failures it has stored.
Where the CI environment variable is set, the examples are derived from each test's name
instead, so a CI run is reproducible and a failure can be rerun exactly.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
