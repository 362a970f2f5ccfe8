"""etbuilder.package: a trained run -> a deployable app folder that serves without torch.

`build_app(run_dir)` builds it; `predict_with_app(app_dir, inputs)` predicts with it in
process. Importing this package stays light: torch is imported only while building.
"""

from etbuilder.package.builder import build_app, load_plan, write_archive
from etbuilder.package.evalset import EvalSet, from_texts
from etbuilder.package.predict import predict_with_app

__all__ = ["EvalSet", "build_app", "from_texts", "load_plan", "predict_with_app", "write_archive"]
