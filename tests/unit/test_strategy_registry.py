"""The runtime's strategy table agrees with the plan's strategy types and the engine's list."""

from __future__ import annotations

import subprocess
import sys


def test_every_planned_strategy_has_runtime_hooks() -> None:
    from etbuilder.plan import STRATEGY_TYPES
    from etbuilder.runtime.engine import SUPPORTED_STRATEGIES
    from etbuilder.runtime.strategies import STRATEGIES

    assert set(STRATEGIES) == STRATEGY_TYPES
    assert set(SUPPORTED_STRATEGIES) == set(STRATEGIES)


def test_the_table_imports_without_torch() -> None:
    code = (
        "import sys; import etbuilder.runtime.strategies as s; "
        "assert 'torch' not in sys.modules, 'torch imported'; print(len(s.STRATEGIES))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "6"
