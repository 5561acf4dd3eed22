"""The README's first Python example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    exec(compile(blocks[0], "README.md", "exec"), {})
    out = capsys.readouterr().out
    m = re.search(r"sliced W2 to target: ([0-9.e-]+) floor: ([0-9.e-]+)", out)
    w2, floor = float(m.group(1)), float(m.group(2))
    assert w2 < 1.5 * floor
    nll = re.search(r"NLL nats/dim: ([0-9.e-]+) exact: ([0-9.e-]+)", out)
    assert abs(float(nll.group(1)) - float(nll.group(2))) < 0.02
