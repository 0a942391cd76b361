"""Prints Optuna 3.1 TPESampler proposals used as the parity fixture in test/sweep-tpe.test.ts.

Usage: /usr/bin/python3 bench/tpe_parity.py
Each case is a serial study (objective below, mirrored in the test) with a seeded sampler; the
output lists every trial's parameters in suggestion order.
"""
import json
import math
import warnings

import optuna

warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def quad(t):
    x = t.suggest_float("x", -10, 10)
    return (x - 2) ** 2


def mixed(t):
    lr = t.suggest_float("lr", 1e-5, 1e-1, log=True)
    d = t.suggest_int("depth", 1, 10)
    k = t.suggest_categorical("kind", ["a", "b", "c"])
    fr = t.suggest_float("frac", 0.0, 1.0, step=0.1)
    w = t.suggest_int("width", 8, 512, log=True)
    return (math.log10(lr) + 3) ** 2 + (d - 7) ** 2 / 10 + {"a": 1.0, "b": 0.0, "c": 0.5}[k] + abs(fr - 0.3) + (math.log2(w) - 6) ** 2 / 5


CASES = [("quad", quad, False, 0, 40), ("quad", quad, True, 1, 40), ("mixed", mixed, True, 1, 40), ("mixed", mixed, False, 2, 40)]

out = []
for name, f, multivariate, seed, n in CASES:
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed, multivariate=multivariate))
    study.optimize(f, n_trials=n)
    out.append({"fn": name, "multivariate": multivariate, "seed": seed, "params": [list(t.params.values()) for t in study.trials]})
print(json.dumps(out))
