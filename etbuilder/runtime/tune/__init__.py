"""`etb tune`: an optuna study around ordinary runs (spec -> plan -> run_plan per trial).

`storage` opens where the study is kept, `search` makes the sampler and pruner, `trial` turns one
optuna trial into a validated, compiled and budget-checked run, `study` drives the workers, and
`outputs` writes what the study folder holds (trials.csv, best.yaml, plots, report.md).
"""
