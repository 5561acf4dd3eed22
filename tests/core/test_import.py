"""``import scorelab`` stays light: no app, no optional heavy dependency."""

import subprocess
import sys

HEAVY = [
    "scorelab.apps",
    "scipy",
    "torchdiffeq",
    "ot",
    "matplotlib",
    "torch_geometric",
    "e3nn",
    "rdkit",
]


def test_import_scorelab_is_light():
    code = (
        "import sys, scorelab, scorelab.samplers, scorelab.losses, scorelab.likelihood; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_public_api_is_exported():
    import scorelab

    for name in scorelab.__all__:
        assert hasattr(scorelab, name), name
