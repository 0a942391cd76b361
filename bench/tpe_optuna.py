"""Optuna side of bench/tpe.ts: runs Optuna 3.1's TPESampler on the bench functions.

Usage: /usr/bin/python3 bench/tpe_optuna.py TRIALS SEEDS [--univariate]
Prints one JSON object: {"optuna_version": ..., "functions": {name: [best value per seed]}}.
The functions must stay identical to FUNCTIONS in bench/tpe.ts.
"""
import json
import math
import sys
import warnings

import optuna

warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def branin(t):
    x1 = t.suggest_float("x1", -5.0, 10.0)
    x2 = t.suggest_float("x2", 0.0, 15.0)
    b = 5.1 / (4 * math.pi**2)
    c = 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


HA = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HP = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
      [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]
HALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(t):
    x = [t.suggest_float(f"x{i}", 0.0, 1.0) for i in range(6)]
    total = 0.0
    for i in range(4):
        inner = 0.0
        for j in range(6):
            inner += HA[i][j] * (x[j] - HP[i][j]) ** 2
        total += HALPHA[i] * math.exp(-inner)
    return -total


ACT = {"relu": 0.35, "gelu": 0.0, "tanh": 0.9, "silu": 0.15}


def mixed(t):
    lr = t.suggest_float("lr", 1e-5, 1e-1, log=True)
    depth = t.suggest_int("depth", 1, 10)
    act = t.suggest_categorical("act", ["relu", "gelu", "tanh", "silu"])
    u = (math.log10(lr) + 5) / 4
    v = (depth - 1) / 9
    return 3 * (u - 0.68) ** 2 + 2 * (v - 0.55) ** 2 + 1.5 * (u - 0.68) * (v - 0.55) + ACT[act]


FUNCTIONS = {"branin": branin, "hartmann6": hartmann6, "mixed": mixed}


def main():
    trials = int(sys.argv[1])
    seeds = int(sys.argv[2])
    multivariate = "--univariate" not in sys.argv
    out = {}
    for name, f in FUNCTIONS.items():
        bests = []
        for seed in range(seeds):
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=multivariate, n_startup_trials=10)
            study = optuna.create_study(direction="minimize", sampler=sampler)
            study.optimize(f, n_trials=trials)
            bests.append(study.best_value)
        out[name] = bests
    print(json.dumps({"optuna_version": optuna.__version__, "multivariate": multivariate, "functions": out}))


if __name__ == "__main__":
    main()
