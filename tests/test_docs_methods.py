"""docs/methods.md's tour runs as written and its printed numbers are what the page claims."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "methods.md"


def test_methods_tour_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    exec(compile(blocks[0], "docs/methods.md", "exec"), {})
    out = capsys.readouterr().out
    fkc = float(re.search(r"FKC anneal W2: ([0-9.e-]+)", out).group(1))
    assert fkc < 0.08  # 4000 particles: the moment W2's Monte Carlo floor is ~0.02
    smc = float(re.search(r"SMC posterior W2: ([0-9.e-]+)", out).group(1))
    assert smc < 0.15  # POT W2 between two exact posterior sets of 2000 is ~0.08
    mrs = re.search(r"MRS mean: \[([^\]]+)\] exact: \[([^\]]+)\]", out)
    got, exact = ([float(v) for v in g.split(",")] for g in mrs.groups())
    assert max(abs(a - b) for a, b in zip(got, exact)) < 0.05
