"""benchmarks.perf.speed: rows vs the reference, timing loops' arithmetic, orchestration, CLI."""

from __future__ import annotations

import contextlib
import csv
import json
import subprocess
import sys
import types
from dataclasses import asdict
from typing import ClassVar

import pytest

from benchmarks.perf import speed
from benchmarks.perf.speed import BenchSettings
from piad.errors import PIADError


def _clock(values: list[float]):
    """A clock that returns ``values`` in turn."""
    it = iter(values)
    return lambda: next(it)


# ------------------------------------------------------------------------ tables' constants
def test_every_reference_quantity_has_a_unit() -> None:
    for preset, quantities in speed.REFERENCE.items():
        assert set(quantities) <= set(speed.UNITS), preset
    assert set(speed.UNITS) >= speed.RATES
    assert {speed.UNITS[q] for q in speed.RATES} <= {"img/s", "it/s"}


def test_the_suites_projection_presets_have_train_sizes() -> None:
    for parts in speed.SUITES.values():
        assert {p for p, _, _ in parts} <= set(speed.TRAIN_IMAGES)


# ------------------------------------------------------------------------ _row
@pytest.mark.parametrize(
    ("preset", "quantity", "value", "reference", "speedup"),
    [
        ("mnist", "critic_s", 0.7, 0.35, 0.5),  # time: 0.35 / 0.7
        ("mnist", "score_img_per_s_b32", 29.0, 116.0, 0.25),  # rate: 29 / 116
        ("cifar10", "policy_extra_s", 0.48, 1.6, 3.33),  # 1.6 / 0.48 = 3.333 -> 2 decimals
        ("cifar10", "vgg_forward_s", 0.1, None, None),  # no CIFAR-10 reference for VGG
        ("mnist", "s_per_iter", 0.0, 1.02, None),  # no speedup from a zero
        ("mnist", "s_per_iter", -1.0, 1.02, None),
        ("all", "projected_table2_hours", 12.0, None, None),
        ("celeba", "s_per_iter", 3.0, None, None),
    ],
)
def test_row_speedup_against_the_reference(preset, quantity, value, reference, speedup) -> None:
    row = speed._row(preset, BenchSettings(), quantity, value)
    assert (row["reference"], row["speedup"]) == (reference, speedup)


def test_row_fields_value_rounding_unit_and_note() -> None:
    settings = BenchSettings(device="cuda:1", threads=5)
    row = speed._row("mnist", settings, "peak_rss_gb", 1.234567, "tiny config")
    assert row == {
        "preset": "mnist",
        "device": "cuda:1",
        "threads": 5,
        "quantity": "peak_rss_gb",
        "value": 1.2346,
        "unit": "GiB",
        "reference": None,
        "speedup": None,
        "note": "tiny config",
    }
    assert tuple(row) == speed.CSV_COLUMNS
    assert speed._row("mnist", settings, "iter_per_s_packed_4", 3.0)["unit"] == ""


# ------------------------------------------------------------------------ timing loops
class _FakeTrainer:
    """Counts iterations the way Trainer does; ``timed_step`` returns the next preset times."""

    def __init__(self, iteration: int, times: list[tuple[float, float, float]]) -> None:
        self.iteration = iteration
        self.times = iter(times)
        self.stepped: list[int] = []

    def timed_step(self) -> tuple[float, float, float]:
        self.iteration += 1
        self.stepped.append(self.iteration)
        return next(self.times)


@pytest.mark.parametrize(
    ("autocast", "key"), [("none", "iter_per_s_fp32"), ("bf16", "iter_per_s_bf16")]
)
def test_time_training_medians_best_and_rate(autocast: str, key: str) -> None:
    trainer = _FakeTrainer(2, [(9.0, 9.0, 18.0), (0.1, 0.3, 0.4), (0.2, 0.2, 0.5), (0.3, 0.6, 0.9)])
    s = BenchSettings(warmup=1, iters=3, autocast=autocast)
    config = types.SimpleNamespace(n_weight=5)
    out = speed._time_training(s, trainer, config, trainer.timed_step)
    # the warm-up (18 s) is not counted; the medians of
    # critic (0.1, 0.2, 0.3), E+G (0.3, 0.2, 0.6) and total (0.4, 0.5, 0.9)
    assert out == {
        "s_per_iter": 0.5,
        "s_per_iter_best": 0.4,
        "critic_s": 0.2,
        "enc_gen_s": 0.3,
        key: 2.0,
    }  # 1 / 0.5


def test_time_training_skips_the_weight_policy_iterations() -> None:
    trainer = _FakeTrainer(2, [(1.0, 1.0, 2.0)] * 6)
    s = BenchSettings(warmup=1, iters=5)
    speed._time_training(s, trainer, types.SimpleNamespace(n_weight=5), trainer.timed_step)
    # from iteration 2: 3 (warm-up), 4, [5 is a policy iteration: skipped], 6, 7, 8, 9
    assert trainer.stepped == [3, 4, 6, 7, 8, 9]
    assert all(t % 5 for t in trainer.stepped)


def test_time_data_is_the_median_of_at_least_five_draws() -> None:
    draws = []
    trainer = types.SimpleNamespace(data=types.SimpleNamespace(next=lambda: draws.append(1)))
    clock = _clock([0, 1, 1, 3, 3, 4, 4, 8, 8, 10])  # 1, 2, 1, 4, 2 s
    assert speed._time_data(BenchSettings(iters=2), trainer, 2, clock) == 2
    assert len(draws) == 5 * 3  # max(2, 5) iterations of n_dis + 1 = 3 batches


def test_time_vgg_medians_of_forward_and_backward() -> None:
    import torch

    calls = []

    def features(x):
        calls.append(x.requires_grad)
        return x * 2

    x = torch.ones(2, 3)
    trainer = types.SimpleNamespace(
        autocast_context=contextlib.nullcontext, data=types.SimpleNamespace(next=lambda: x)
    )
    # three rounds (max(3, min(iters=1, 10))): fwd 1, 2, 1 s; bwd 2, 1, 3 s
    clock = _clock([0, 1, 3, 3, 5, 6, 6, 7, 10])
    assert speed._time_vgg(BenchSettings(iters=1), trainer, features, clock) == (1, 2)
    assert calls == [False, True] * 3  # x without grad, then its copy with grad, per round


def test_clock_waits_for_the_device_first(monkeypatch) -> None:
    events = []
    monkeypatch.setattr(speed, "synchronize", lambda device: events.append(("sync", device)))
    monkeypatch.setattr(
        speed, "time", types.SimpleNamespace(perf_counter=lambda: events.append("read") or 12.5)
    )
    assert speed._clock("cuda:0")() == 12.5
    assert events == [("sync", "cuda:0"), "read"]


# ------------------------------------------------------------------------ the timed step
def _tiny_trainer(**kwargs):
    import torch

    from piad.config import PIADConfig
    from piad.training import Trainer

    cfg = PIADConfig.preset("mnist", device="cpu", batch_size=4, **speed._tiny_config("mnist"))
    images = torch.randint(
        0, 256, (16, 1, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    return Trainer(cfg, images, features=speed._tiny_features(), progress=False, **kwargs)


def test_tiny_parts_are_fixed_and_small() -> None:
    import torch

    assert speed._tiny_config("cifar10") == speed._tiny_config("mnist")
    a, b = speed._tiny_features(), speed._tiny_features()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)  # seeded: the same stand-in every time
    assert sum(p.numel() for p in a.body.parameters()) == 3 * 4 * 9 + 4 + 4 * 4 * 9 + 4  # 260


def test_timed_step_is_trainer_step_with_a_clock() -> None:
    import torch

    plain, timed = _tiny_trainer(), _tiny_trainer()
    step = speed._step_timer(timed, timed.config.n_dis, _clock([10.0, 11.5, 14.0, 0, 0, 0]))
    assert step() == (1.5, 2.5, 4.0)  # critic 11.5 - 10, E+G 14 - 11.5, total 14 - 10
    step()
    plain.step()
    plain.step()
    assert (timed.iteration, timed._count) == (plain.iteration, plain._count) == (2, 2)
    assert torch.equal(timed._sums, plain._sums)
    for p, q in zip(timed.networks.parameters(), plain.networks.parameters()):
        assert torch.equal(p, q)


def _nan_critic(trainer) -> None:
    critic = trainer._critic_step
    trainer._critic_step = lambda: critic() * float("nan")


def test_trainer_step_records_a_nan_loss() -> None:  # the reference for the test below
    from piad.errors import TrainingDivergedError

    trainer = _tiny_trainer()
    _nan_critic(trainer)
    trainer.step()
    with pytest.raises(TrainingDivergedError, match="NaN or inf at iteration 1"):
        trainer.check_finite()


def test_timed_step_records_a_nan_loss_like_trainer_step() -> None:
    from piad.errors import TrainingDivergedError

    trainer = _tiny_trainer()
    _nan_critic(trainer)
    speed._step_timer(trainer, trainer.config.n_dis, _clock([0.0, 1.0, 2.0]))()
    with pytest.raises(TrainingDivergedError):
        trainer.check_finite()


# ------------------------------------------------------------------------ workers
def test_worker_command_carries_every_setting() -> None:
    s = BenchSettings(preset="cifar10", iters=2, tiny=True, autocast="bf16")
    cmd = speed._worker_cmd(s)
    assert cmd[:4] == [sys.executable, "-m", "benchmarks.speed", "--worker"]
    assert BenchSettings(**json.loads(cmd[4])) == s


def test_run_fresh_names_the_preset_and_its_threads(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(speed, "run_worker", lambda *a: calls.append(a) or {"s_per_iter": 1.0})
    s = BenchSettings(preset="cifar10", threads=3)
    assert speed.run_fresh(s) == {"s_per_iter": 1.0}
    assert calls == [("benchmarks.speed", asdict(s), 3, "cifar10")]


class _FakePopen:
    """Stands in for a worker process; prints the next of ``outputs``."""

    outputs: ClassVar[list[tuple[int, str, str]]] = []
    started: ClassVar[list[tuple[list[str], dict]]] = []

    def __init__(self, args, stdout=None, stderr=None, text=None, env=None) -> None:
        self.args = args
        self.returncode, self._out, self._err = _FakePopen.outputs.pop(0)
        _FakePopen.started.append((args, env))

    def communicate(self):
        return self._out, self._err


def test_packed_jobs_add_their_rates(monkeypatch) -> None:
    _FakePopen.outputs = [
        (0, 'log\n{"iter_per_s_fp32": 1.5}\n', ""),
        (0, '{"iter_per_s_bf16": 2.25}\n', ""),
    ]
    _FakePopen.started = []
    monkeypatch.setattr(speed.subprocess, "Popen", _FakePopen)
    s = BenchSettings(threads=3, train_only=True)
    assert speed.run_packed(s, 2) == 3.75  # 1.5 + 2.25
    assert [args for args, _ in _FakePopen.started] == [speed._worker_cmd(s)] * 2
    assert all(env["OMP_NUM_THREADS"] == "3" for _, env in _FakePopen.started)


def test_a_failed_packed_job_names_the_packing(monkeypatch) -> None:
    _FakePopen.outputs = [(0, '{"iter_per_s_fp32": 1.0}\n', ""), (1, "", "CUDA error: OOM\n")]
    monkeypatch.setattr(speed.subprocess, "Popen", _FakePopen)
    with pytest.raises(PIADError, match=r"^benchmark worker for mnist x2 failed: CUDA error: OOM$"):
        speed.run_packed(BenchSettings(preset="mnist"), 2)


# ------------------------------------------------------------------------ benchmark
def test_benchmark_notes_the_settings_on_every_row(monkeypatch) -> None:
    monkeypatch.setattr(speed, "measure", lambda s: {"s_per_iter": 2.0, "iter_per_s_bf16": 0.5})
    base = BenchSettings(tiny=True, autocast="bf16", feature_cache="off")
    logged: list[str] = []
    rows = speed.benchmark(["mnist"], base, fresh=False, log=logged.append)
    assert [(r["quantity"], r["value"]) for r in rows] == [
        ("s_per_iter", 2.0),
        ("iter_per_s_bf16", 0.5),
    ]
    assert {r["note"] for r in rows} == {"tiny config bf16 autocast feature cache off"}
    assert logged == ["[speed] mnist: 20 iterations on cpu, 2 threads ..."]


def test_benchmark_default_settings_have_no_note(monkeypatch) -> None:
    monkeypatch.setattr(speed, "measure", lambda s: {"iter_per_s_fp32": 4.0})
    (row,) = speed.benchmark(["cifar10"], BenchSettings(), fresh=False, log=lambda _: None)
    assert row["note"] == "" and row["preset"] == "cifar10"


def test_benchmark_runs_each_preset_with_its_name(monkeypatch) -> None:
    seen: list[BenchSettings] = []
    monkeypatch.setattr(speed, "run_fresh", lambda s: seen.append(s) or {"iter_per_s_fp32": 1.0})
    speed.benchmark(["mnist", "celeba"], BenchSettings(iters=7), log=lambda _: None)
    assert [(s.preset, s.iters) for s in seen] == [("mnist", 7), ("celeba", 7)]


def test_benchmark_on_cuda_adds_bf16_and_packing_and_projects_the_best(monkeypatch) -> None:
    rate = {"mnist": 1.0, "cifar10": 0.5}  # plain it/s
    runs: list[BenchSettings] = []

    def fake_measure(s: BenchSettings) -> dict:
        runs.append(s)
        if s.autocast == "bf16":
            return {"iter_per_s_bf16": 2 * rate[s.preset]}
        return {"iter_per_s_fp32": rate[s.preset]}

    packed: list[tuple[BenchSettings, int]] = []

    def fake_packed(s: BenchSettings, jobs: int) -> float:
        packed.append((s, jobs))
        return {1: 1.0, 2: 1.8, 4: 3.0}[jobs] * rate[s.preset]

    monkeypatch.setattr(speed, "measure", fake_measure)
    monkeypatch.setattr(speed, "run_packed", fake_packed)
    rows = speed.benchmark(
        ["mnist", "cifar10"],
        BenchSettings(device="cuda"),
        pack=(1, 2, 4),
        fresh=False,
        log=lambda _: None,
    )
    mnist = [(r["quantity"], r["value"], r["note"]) for r in rows if r["preset"] == "mnist"]
    assert mnist == [
        ("iter_per_s_fp32", 1.0, ""),
        ("iter_per_s_bf16", 2.0, "autocast"),
        ("iter_per_s_packed_1", 1.0, "1 jobs"),
        ("iter_per_s_packed_2", 1.8, "2 jobs"),
        ("iter_per_s_packed_4", 3.0, "4 jobs"),
    ]
    assert [(s.autocast, s.train_only) for s in runs] == [("none", False), ("bf16", True)] * 2
    assert all(s.train_only and s.autocast == "none" for s, _ in packed)
    (proj,) = [r for r in rows if r["preset"] == "all"]
    # best: mnist 3.0 it/s, cifar10 1.5 it/s (4 packed jobs)
    # (30 * 50k / 3.0 + 30 * 100k / 1.5) s = 500,000 + 2,000,000 s = 694.444 h
    assert proj["quantity"] == "projected_table2_hours"
    assert proj["value"] == pytest.approx(694.4444) and proj["note"] == "best packing measured"


def test_benchmark_on_cuda_in_bf16_mode_adds_no_extra_runs(monkeypatch) -> None:
    monkeypatch.setattr(speed, "measure", lambda s: {"iter_per_s_bf16": 2.0})
    monkeypatch.setattr(speed, "run_packed", lambda s, j: pytest.fail("no packing in bf16 mode"))
    rows = speed.benchmark(
        ["mnist"], BenchSettings(device="cuda", autocast="bf16"), fresh=False, log=lambda _: None
    )
    assert [r["quantity"] for r in rows] == ["iter_per_s_bf16"]


def test_cpu_projection_says_one_job_at_a_time(monkeypatch) -> None:
    monkeypatch.setattr(speed, "measure", lambda s: {"iter_per_s_fp32": 2.0})
    rows = speed.benchmark(["cifar10", "mnist"], BenchSettings(), fresh=False, log=lambda _: None)
    (proj,) = [r for r in rows if r["preset"] == "all"]
    # (30 * 50k + 30 * 100k) / 2 it/s = 2,250,000 s = 625 h
    assert proj["value"] == 625.0 and proj["note"] == "one job at a time on this machine"
    assert proj["device"] == "cpu" and proj["reference"] is None


# ------------------------------------------------------------------------ outputs and CLI
def test_write_outputs_csv_columns_and_markdown(tmp_path) -> None:
    rows = [
        speed._row("mnist", BenchSettings(), "s_per_iter", 0.51),
        speed._row("mnist", BenchSettings(), "data_s", 0.01),
    ]
    csv_path, md_path = speed.write_outputs(rows, tmp_path, "Xeon, 2 CPU cores")
    with open(csv_path, newline="") as f:
        read = list(csv.DictReader(f))
    assert tuple(read[0]) == speed.CSV_COLUMNS
    assert [(r["quantity"], r["value"], r["reference"], r["speedup"]) for r in read] == [
        ("s_per_iter", "0.51", "1.02", "2.0"),  # 1.02 / 0.51
        ("data_s", "0.01", "", ""),
    ]
    text = md_path.read_text()
    assert text.startswith("# PIAD speed benchmark\n\nMachine: Xeon, 2 CPU cores\n\n| preset")
    data_line = next(ln for ln in text.splitlines() if "data_s" in ln)
    assert "nan" not in data_line and "None" not in data_line


def test_write_outputs_of_no_rows_is_a_header_only_table(tmp_path) -> None:
    csv_path, md_path = speed.write_outputs([], tmp_path, "m")
    assert csv_path.read_text().strip() == ",".join(speed.CSV_COLUMNS)
    assert "| preset" in md_path.read_text()


def test_parser_defaults() -> None:
    args = speed._parser().parse_args([])
    assert (args.presets, args.iters, args.warmup, args.threads, args.device) == (
        "mnist,cifar10",
        20,
        3,
        2,
        "cpu",
    )
    assert (args.autocast, args.feature_cache, args.pack, args.n_images) == (
        "none",
        "auto",
        "1,2,4,8",
        0,
    )
    assert not (args.tiny or args.in_process) and args.worker is None


@pytest.mark.parametrize(
    "argv", [["--autocast", "fp16"], ["--feature-cache", "maybe"], ["--iters", "two"]]
)
def test_parser_refuses_bad_choices(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        speed._parser().parse_args(argv)
    assert info.value.code == 2


@pytest.fixture
def no_benchmark(monkeypatch) -> dict:
    """``benchmark`` replaced by a recorder (no measuring); the machine line fixed."""
    got: dict = {}

    def fake(presets, base, pack, fresh):
        got.update(presets=presets, base=base, pack=pack, fresh=fresh)
        return [speed._row("mnist", base, "s_per_iter", 1.02)]

    monkeypatch.setattr(speed, "benchmark", fake)
    monkeypatch.setattr(speed, "machine_description", lambda device, threads: "the machine")
    return got


def test_main_builds_the_settings_from_the_arguments(no_benchmark, tmp_path, capsys) -> None:
    argv = [
        "--presets",
        "cifar10,,mnist,",
        "--iters",
        "5",
        "--warmup",
        "1",
        "--threads",
        "1",
        "--weights",
        "torchvision",
        "--autocast",
        "bf16",
        "--feature-cache",
        "off",
        "--n-images",
        "100",
        "--pack",
        "2,4,",
        "--in-process",
        "--out",
        str(tmp_path),
    ]
    assert speed.main(argv) == 0
    assert no_benchmark["presets"] == ["cifar10", "mnist"] and no_benchmark["pack"] == [2, 4]
    assert no_benchmark["fresh"] is False
    assert no_benchmark["base"] == BenchSettings(
        device="cpu",
        threads=1,
        iters=5,
        warmup=1,
        weights="torchvision",
        autocast="bf16",
        feature_cache="off",
        n_images=100,
        tiny=False,
    )
    out = capsys.readouterr().out
    assert "Machine: the machine" in out and out.endswith(f"{tmp_path / 'speed.md'}\n")


def test_main_tiny_takes_the_tiny_sizes(no_benchmark, tmp_path) -> None:
    assert speed.main(["--tiny", "--out", str(tmp_path)]) == 0
    base = no_benchmark["base"]
    assert base.tiny and no_benchmark["fresh"] is True
    assert {k: getattr(base, k) for k in speed.TINY_SIZES} == speed.TINY_SIZES


def test_main_tiny_keeps_an_explicit_n_images(no_benchmark, tmp_path) -> None:
    assert speed.main(["--tiny", "--n-images", "16", "--out", str(tmp_path)]) == 0
    assert no_benchmark["base"].n_images == 16


def test_main_refuses_a_bad_pack_in_one_line(no_benchmark, tmp_path, capsys) -> None:
    assert speed.main(["--pack", "1,x", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert no_benchmark == {}


def test_main_refuses_cuda_without_cuda(no_benchmark, monkeypatch, capsys) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert speed.main(["--device", "cuda"]) == 2
    assert capsys.readouterr().err.startswith("error: --device cuda asked for, but CUDA is not")
    assert no_benchmark == {}


def test_main_worker_prints_the_figures_as_its_last_json_line(monkeypatch, capsys) -> None:
    seen = []
    monkeypatch.setattr(speed, "measure", lambda s: seen.append(s) or {"s_per_iter": 0.25})
    s = BenchSettings(preset="cifar10", iters=2, tiny=True)
    assert speed.main(["--worker", json.dumps(asdict(s))]) == 0
    assert seen == [s]
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == {"s_per_iter": 0.25}
    done = subprocess.CompletedProcess([], 0, last + "\n", "")
    assert speed.parse_worker(done, "cifar10") == {"s_per_iter": 0.25}  # what the parent reads
