"""Run the MSSD skip benchmark.

`python -m benchmarks.mssd_skip --out DIR` (see the package docstring).
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from amrs_gym.data.wsdm import accuracy_by_step, session_average_accuracy, skip_metrics
from amrs_gym.io import prepare_output_dir
from benchmarks._common import (
    markdown_table,
    paired_bootstrap,
    provenance,
    pyplot,
    run,
    save_figure,
    write_outputs,
)
from benchmarks.mssd_skip import METRIC_NAMES, MODELS, NAME, Args
from benchmarks.mssd_skip.data import Data, held_out_maa, load_data, truth
from benchmarks.mssd_skip.gbt import fit_gbt, predict_gbt, predict_last_known
from benchmarks.mssd_skip.world_model import predict_world_model, train_world_model


def _members(args: Args, model_name: str) -> int:
    return {"world_model": args.world_model.members, "gbt": args.gbt.members}.get(model_name, 1)


def predict_unit(
    data: Data, args: Args, model_name: str, seed: int, member: int = 0
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Train one model (or one member of it) and predict the evaluation second halves.

    Returns the predictions (session_id, position, probability, sorted) and training facts.
    """
    torch.set_num_threads(1)
    started = time.perf_counter()
    info: dict[str, Any] = {}
    if model_name == "world_model":
        model, history = train_world_model(data, args.world_model, seed, member)
        predicted = predict_world_model(model, data.train, data.eval)
        info = {key: history[key] for key in ("best_epoch", "best_val_loss", "validation_maa")}
    elif model_name == "gbt":
        gbt = fit_gbt(data, args.gbt, seed, member)
        predicted = predict_gbt(gbt, data.train, data.eval)
        validation = held_out_maa(
            data, data.validation_sessions(seed, member), lambda t, e: predict_gbt(gbt, t, e)
        )
        info = {"iterations": int(gbt.n_iter_), "validation_maa": validation}
    elif model_name == "last_known":
        predicted = predict_last_known(data.eval)
    else:
        raise ValueError(f"unknown model {model_name!r}")
    info["seconds"] = time.perf_counter() - started
    return predicted.sort_values(["session_id", "position"]).reset_index(drop=True), info


def score(data: Data, predicted: pd.DataFrame) -> dict[str, Any]:
    """Metrics, accuracy by second-half step and per-session AA of predictions.

    All for the eval sessions.
    """
    skipped = truth(data.eval, predicted)
    second = predicted.merge(
        data.eval[["session_id", "position", "session_length"]], on=["session_id", "position"]
    )
    probability = predicted["probability"].to_numpy()
    correct = (probability >= 0.5) == skipped
    return {
        "metrics": skip_metrics(second, probability, skipped),
        "accuracy_by_step": accuracy_by_step(second, probability, skipped).tolist(),
        "session_aa": session_average_accuracy(
            second["session_id"].to_numpy(), second["position"].to_numpy(), correct
        ),
    }


def _combine(data: Data, parts: list[tuple[pd.DataFrame, dict[str, Any]]]) -> dict[str, Any]:
    """Score the mean prediction of a model's members (one part for an unensembled model)."""
    predicted = parts[0][0].copy()
    predicted["probability"] = np.mean([p["probability"].to_numpy() for p, _ in parts], axis=0)
    out = score(data, predicted)
    out["seconds"] = sum(info["seconds"] for _, info in parts)
    if len(parts) > 1:
        out["members"] = [
            {k: v for k, v in info.items()} | score(data, p)["metrics"] for p, info in parts
        ]
    else:
        out.update({k: v for k, v in parts[0][1].items() if k != "seconds"})
    return out


def run_one(data: Data, args: Args, model_name: str, seed: int) -> dict[str, Any]:
    """Train (when it learns) and score one model for one seed, members in turn.

    No side effects.
    """
    return _combine(
        data,
        [predict_unit(data, args, model_name, seed, m) for m in range(_members(args, model_name))],
    )


def _unit(job: tuple[Data, Args, str, int, int]) -> tuple[pd.DataFrame, dict[str, Any]]:
    return predict_unit(*job)


def main(args: Args) -> dict[str, Any]:
    """Score every model on every training seed and write the outputs."""
    torch.set_num_threads(1)
    out = prepare_output_dir(args.out_dir)
    started = time.perf_counter()
    if args.quick:
        args = replace(
            args,
            world_model=replace(args.world_model, epochs=8, patience=3, batch_size=16, members=1),
            gbt=replace(args.gbt, members=1),
            seeds=1,
        )
    data = load_data(
        args.train, args.eval, args.quick, args.seed, args.test_fraction, args.val_fraction
    )
    seeds = {name: [args.seed + i for i in range(args.seeds)] for name in MODELS}
    seeds["last_known"] = [args.seed]  # deterministic
    keys = [
        (name, seed, member)
        for name in MODELS
        for seed in seeds[name]
        for member in range(_members(args, name))
    ]
    jobs = [(data, args, name, seed, member) for name, seed, member in keys]
    if args.workers > 1:  # members are the units of work, so both workers stay busy
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            outputs = list(pool.map(_unit, jobs))
    else:
        outputs = [_unit(job) for job in jobs]
    runs: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in MODELS}
    for name in MODELS:
        for seed in seeds[name]:
            parts = [out for key, out in zip(keys, outputs, strict=True) if key[:2] == (name, seed)]
            runs[name][seed] = _combine(data, parts)

    report: dict[str, Any] = {}
    for name in MODELS:
        report[name] = {
            m: float(np.mean([r["metrics"][m] for r in runs[name].values()])) for m in METRIC_NAMES
        }
    report["std"] = {
        name: {
            m: float(np.std([r["metrics"][m] for r in runs[name].values()])) for m in METRIC_NAMES
        }
        for name in MODELS
    }
    report["n_seeds"] = {name: len(runs[name]) for name in MODELS}
    report["per_seed"] = {
        name: {
            str(seed): {k: v for k, v in r.items() if k not in ("accuracy_by_step", "session_aa")}
            for seed, r in runs[name].items()
        }
        for name in MODELS
    }
    report["accuracy_by_step"] = {
        name: np.nanmean([r["accuracy_by_step"] for r in runs[name].values()], axis=0).tolist()
        for name in MODELS
    }
    session_aa = {
        name: pd.concat([r["session_aa"] for r in runs[name].values()], axis=1).mean(axis=1)
        for name in MODELS
    }
    report["maa_difference"] = {
        f"world_model - {name}": paired_bootstrap(
            (session_aa["world_model"] - session_aa[name]).to_numpy(), args.seed
        )
        for name in ("last_known", "gbt")
    }
    report["maa_difference"]["note"] = (
        "per-session AA averaged over seeds, paired over sessions; "
        "95% percentile bootstrap interval of the mean difference"
    )
    report["validation_maa"] = {
        name: float(
            np.mean(
                [m["validation_maa"] for r in runs[name].values() for m in r.get("members", [r])]
            )
        )
        for name in ("world_model", "gbt")
    }
    report["protocol"] = data.protocol
    report["world_model_settings"] = asdict(args.world_model)
    report["gbt_settings"] = asdict(args.gbt)
    report["bar"] = {
        "world_model_maa_beats_last_known": report["world_model"]["maa"]
        > report["last_known"]["maa"],
        "world_model_maa_beats_gbt": report["world_model"]["maa"] > report["gbt"]["maa"],
    }
    report["seconds"] = time.perf_counter() - started
    report.update(provenance(args))
    write_outputs(out, NAME, report, _markdown(report))
    _plot(out, runs)
    return report


def _markdown(report: dict[str, Any]) -> str:
    rows = []
    for name in MODELS:
        n = report["n_seeds"][name]
        cells = [
            f"{report[name][m]:.3f} ± {report['std'][name][m]:.3f} ({n} seed{'s' if n > 1 else ''})"
            for m in METRIC_NAMES
        ]
        rows.append([name, *cells])
    protocol, difference = report["protocol"], report["maa_difference"]
    validation = {name: report["validation_maa"][name] for name in ("world_model", "gbt")}
    lead = [
        [pair, f"{d['mean']:+.4f}", f"[{d['ci95_low']:+.4f}, {d['ci95_high']:+.4f}]"]
        for pair, d in difference.items()
        if isinstance(d, dict)
    ]
    return "\n".join(
        [
            "### WSDM Cup 2019 skip prediction on MSSD (second half of each session)",
            "",
            markdown_table(["model", "MAA", "first-track accuracy", "accuracy", "AUC"], rows),
            "",
            "MAA lead of the world model, paired over sessions:",
            "",
            markdown_table(["difference", "mean", "95% bootstrap interval"], lead),
            "",
            (
                "MAA on each member's held-out training sessions "
                "(its early-stopping sessions, mean over members "
                f"and seeds): world_model {validation['world_model']:.3f}, "
                f"gbt {validation['gbt']:.3f}."
            ),
            "",
            (
                f"Protocol: {protocol['description']}; "
                f"{protocol['train_sessions']} training sessions (each learned "
                f"model holds out {protocol['validation_sessions_per_member']} "
                "of them for early stopping), "
                f"{protocol['eval_sessions']} scored sessions, "
                f"{protocol['eval_rows_scored']} scored rows. "
                f"world_model averages {report['world_model_settings']['members']} and gbt "
                f"{report['gbt_settings']['members']} cross-fitted members per seed."
            ),
            "",
            f"Command: `{report['command']}`",
        ]
    )


def _plot(out: Path, runs: dict[str, dict[int, dict[str, Any]]]) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    for name in MODELS:
        curves = np.array([r["accuracy_by_step"] for r in runs[name].values()], dtype=float)
        mean, std = np.nanmean(curves, axis=0), np.nanstd(curves, axis=0)
        steps = np.arange(1, len(mean) + 1)
        axis.plot(
            steps,
            mean,
            marker="o",
            label=f"{name} ({len(curves)} seed{'s' if len(curves) > 1 else ''})",
        )
        axis.fill_between(steps, mean - std, mean + std, alpha=0.2)
    axis.set(
        xlabel="track of the hidden second half (1 = first hidden track)",
        ylabel="accuracy of skip_2 predictions (fraction)",
        title="WSDM Cup skip prediction on held-out MSSD sessions",
    )
    axis.legend()
    figure.tight_layout()
    save_figure(figure, out / f"{NAME}.png", dpi=120)


if __name__ == "__main__":
    run(main, Args)
