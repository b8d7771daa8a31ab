"""The package's public names load from the package (import circles: the core's layout check in
test_layout.py, which also counts imports inside functions)."""

from __future__ import annotations

import vae_demo


def test_public_names_load() -> None:
    for name in vae_demo.__all__:
        assert getattr(vae_demo, name) is not None
