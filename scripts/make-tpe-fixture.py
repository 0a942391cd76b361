"""Writes the TPE parity fixture of test/sweep-reference.test.ts: the trials Optuna proposes in
the original's sweeps (configs/hparams_search/*_optuna.yaml of naamiinepal/tunevlseg), run the
way the Hydra Optuna sweeper 1.2 runs them.

Usage (one file per Optuna version found on the Python path):
  /usr/bin/python3 scripts/make-tpe-fixture.py test/fixtures/tpe            # Debian's Optuna 3.1
  PYTHONPATH=<optuna 2.10.1 + scipy> /usr/bin/python3 scripts/make-tpe-fixture.py test/fixtures/tpe

The original pins hydra-optuna-sweeper 1.2.0, which requires optuna>=2.10.0,<3.0.0 (so 2.10.1)
and TPE there samples through scipy.stats.truncnorm (any scipy >= 1.9 draws the same way).
Debian ships neither: for the 2.10.1 file put Optuna 2.10.1 (`pip download optuna==2.10.1`, or
its git tag) and scipy on PYTHONPATH; nothing at test time needs Python.

What the sweeper does, and this script repeats (hydra_plugins/hydra_optuna_sweeper/_impl.py):
`create_study(sampler=TPESampler(...), direction="minimize", storage=sqlite)`, then n_jobs=1
batches of one trial: `study.ask()`, `trial._suggest(name, distribution)` for every parameter in
the yaml's order, run, `study.tell(trial, value)`. The objective stands in for a training run:
a fixed function of the parameters (its values are stored, the test feeds them back).
"""
import json
import math
import os
import sys
import tempfile
import warnings

import optuna
from optuna import distributions as D

warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)

V2 = optuna.__version__.startswith("2.")


def log_float(low, high):  # tag(log, interval(low, high))
    return D.LogUniformDistribution(low, high) if V2 else D.FloatDistribution(low, high, log=True)


def float_(low, high):  # interval(low, high) with float bounds
    return D.UniformDistribution(low, high) if V2 else D.FloatDistribution(low, high)


def int_(low, high, step=1):  # range(low, high[, step]): the sweeper's IntUniformDistribution(start, stop, step)
    return D.IntUniformDistribution(low, high, step=step) if V2 else D.IntDistribution(low, high, step=step)


def choice(*xs):  # choice(...): a CategoricalDistribution of the values as listed
    return D.CategoricalDistribution(list(xs))


COMMON = [
    ("optimizer.lr", log_float(1e-5, 5e-3)),
    ("weight_decay", log_float(1e-5, 0.01)),
    ("net.context_learner.prompt_depth", int_(1, 11)),
]
# name, yaml seed, the learner's own rows (the yaml keys without "model.", in file order)
LEARNERS = [
    ("coop", 12345, []),
    ("cocoop", 1234, [("net.context_learner.intermediate_dim", choice(32, 129, 32)), ("net.context_learner.use_lora_proj", choice(True, False))]),
    ("vpt", 1234, []),
    # range(32, 97, 32): the distribution moves high to 96 (the last multiple of the step).
    ("maple", 12345, [("net.context_learner.intermediate_dim", int_(32, 97, 32)), ("net.context_learner.use_lora_proj", choice(True, False))]),
    ("shared_separate", 4322, [("net.context_learner.shared_dim", choice(32, 64))]),
    ("shared_attn", 123456, [
        ("net.context_learner.unified_projector.nhead", choice(16, 20, 32)),
        ("net.context_learner.unified_projector.dropout", float_(0.1, 0.55)),
        ("net.context_learner.unified_projector.dim_feedforward", choice(1280, 1420)),
        ("net.context_learner.unified_projector.norm_first", choice(True, False)),
    ]),
]


def objective(params, space):
    """A stand-in validation loss: smooth in every numerical parameter, a step per categorical."""
    v = 0.0
    for name, d in space:
        x = params[name]
        if isinstance(d, D.CategoricalDistribution):
            v += 0.15 * d.choices.index(x)
        elif name.endswith("lr"):
            v += (math.log10(x) + 3.3) ** 2
        elif name.endswith("weight_decay"):
            v += 0.3 * (math.log10(x) + 2.5) ** 2
        else:
            lo, hi = d.low, d.high
            v += 2.0 * ((x - lo) / (hi - lo) - 0.35) ** 2
    return v


def run(space, seed, n_trials, db, quantum=None):
    sampler = optuna.samplers.TPESampler(
        seed=seed, multivariate=True, warn_independent_sampling=True, consider_prior=True, prior_weight=1.0,
        consider_magic_clip=True, n_startup_trials=10,
    )
    study = optuna.create_study(storage=f"sqlite:///{db}", sampler=sampler, direction="minimize", load_if_exists=True)
    trials = []
    for _ in range(n_trials):
        trial = study.ask()
        for name, d in space:
            trial._suggest(name, d)
        value = objective(trial.params, space)
        if quantum:  # coarse values: many ties, so the good/bad split's tie order matters
            value = round(value / quantum) * quantum
        study.tell(trial, value)
        trials.append({"params": [trial.params[name] for name, _ in space], "value": value})
    return trials


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/tpe"
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (learner, seed, own) in enumerate(LEARNERS):
            space = COMMON + own
            # The yaml's 20 trials; two learners also run 40 (the age-weight ramp starts at 26).
            for n in ([20, 40] if learner in ("cocoop", "shared_attn") else [20]):
                db = os.path.join(tmp, f"{learner}-{n}.db")
                cases.append({"learner": learner, "seed": seed, "names": [name for name, _ in space], "trials": run(space, seed, n, db)})
            if learner == "vpt":  # values rounded to 0.5: ties at the good/bad boundary past 16 trials
                db = os.path.join(tmp, f"{learner}-ties.db")
                cases.append({"learner": learner, "seed": seed, "names": [name for name, _ in space], "quantum": 0.5, "trials": run(space, seed, 40, db, 0.5)})
    os.makedirs(out_dir, exist_ok=True)
    version = optuna.__version__
    path = os.path.join(out_dir, f"optuna-{version}.json")
    meta = {"optuna": version, "generator": "scripts/make-tpe-fixture.py"}
    try:
        import scipy

        meta["scipy"] = scipy.__version__
    except ImportError:
        pass
    with open(path, "w") as f:
        json.dump({**meta, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(path)


main()
