"""Drill: bad flags and damaged files are refused by the command line with exit status 2 and one
line that names the culprit, and nothing that existed before is modified (issue #14).

Every case starts from a copy of the same small world: a finished run folder (module size 3,
N = 2, 3), a run folder of another config (module size 4), that run stored in a results store
next to an analysis result, and a plain file. A case damages something, then runs
``modgrow.__main__.main`` in this process."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from modgrow import store
from modgrow.__main__ import main
from modgrow.io import load_tensors, save_tensors, write_json
from modgrow.training import GrowthConfig, train_curriculum

FAST = dict(module_size=3, max_n=3, eval_every=10, eval_batches=2, batch_size=32,
            confirm_batches=2, threshold=0.6, seed=1, max_steps_per_stage=500)


def flags(**over) -> list[str]:
    """The grow flags of FAST with ``over`` changed."""
    return [a for k, v in {**FAST, **over}.items() for a in ("--" + k.replace("_", "-"), str(v))]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("world")
    cfg = GrowthConfig(**FAST)
    res = train_curriculum(cfg, root / "run", progress=False)
    assert [s["steps"] for s in res.history["stages"]] == [10, 30]
    train_curriculum(GrowthConfig(**{**FAST, "module_size": 4, "seed": 2}), root / "other",
                     progress=False)
    mp = pytest.MonkeyPatch()
    mp.setenv("MODGROW_RESULTS", str(root / "store" / "results"))
    try:
        store.import_run_folder(root / "run")
        store.load_or_compute("analysis", "demo", {"a": 1}, lambda: {"v": 1})
    finally:
        mp.undo()
    (root / "file.txt").write_text("not a folder\n")
    return root


def stored(root: Path) -> Path:
    return next((root / "store" / "results" / "runs").iterdir())


# ----- damage ------------------------------------------------------------------------------------

def edit_json(path: Path, change) -> None:
    d = json.loads(path.read_text())
    change(d)
    write_json(path, d)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def edit_checkpoint(path: Path, change) -> None:
    ck = load_tensors(path)
    change(ck)
    save_tensors(path, ck)


def nan_weights(ck: dict) -> None:
    ck["state"]["blocks.1.w_rec"][0, 1] = float("nan")


def other_weights(root: Path) -> None:
    """A network of the right structure but other weights: only the hash can tell."""
    path = stored(root) / "network.pt"
    edit_checkpoint(path, lambda ck: ck["state"]["heads.0.bias"].add_(1.0))


RUN_HIST, RUN_LAST = "run/history.json", "run/stage_003.pt"
S = {  # damage per name; paths relative to the world
    "none": lambda r: None,
    "garble history": lambda r: (r / RUN_HIST).write_text('{"config": {"module_size": 3,'),
    "history is a list": lambda r: (r / RUN_HIST).write_text("[1, 2, 3]\n"),
    "history skips a stage": lambda r: edit_json(r / RUN_HIST,
                                                 lambda d: d["stages"][1].update(n=5)),
    "history has an unknown field": lambda r: edit_json(
        r / RUN_HIST, lambda d: d["config"].update(modul_size=3)),
    "history says running": lambda r: edit_json(r / RUN_HIST, lambda d: d.update(
        status="running")),
    "history has no stages": lambda r: edit_json(r / RUN_HIST, lambda d: d.update(stages=[])),
    "history stage without seconds": lambda r: edit_json(
        r / RUN_HIST, lambda d: d["stages"][0].pop("seconds")),
    "history stage without accuracy": lambda r: edit_json(
        r / RUN_HIST, lambda d: d["stages"][1].pop("accuracy")),
    "no history": lambda r: (r / RUN_HIST).unlink(),
    "truncate checkpoint": lambda r: truncate(r / RUN_LAST),
    "garbage checkpoint": lambda r: (r / RUN_LAST).write_bytes(b"\x00" * 64),
    "no checkpoint": lambda r: (r / RUN_LAST).unlink(),
    "checkpoint of module size 4": lambda r: shutil.copy(r / "other/stage_003.pt", r / RUN_LAST),
    "checkpoint of stage 2": lambda r: shutil.copy(r / "run/stage_002.pt", r / RUN_LAST),
    "nan in checkpoint": lambda r: edit_checkpoint(r / RUN_LAST, nan_weights),
    "checkpoint without rng": lambda r: edit_checkpoint(r / RUN_LAST, lambda ck: ck.pop("rng")),
    "checkpoint with a bad rng": lambda r: edit_checkpoint(
        r / RUN_LAST, lambda ck: ck.update(rng=torch.zeros(3))),
    "checkpoint missing a tensor": lambda r: edit_checkpoint(
        r / RUN_LAST, lambda ck: ck["state"].pop("heads.1.weight")),
    "garble stored result": lambda r: (stored(r) / "result.json").write_text('{"kind": "ru'),
    "stored result is a list": lambda r: (stored(r) / "result.json").write_text("[]\n"),
    "stored config nan": lambda r: edit_json(stored(r) / "result.json",
                                             lambda d: d["config"].update(lr=float("nan"))),
    "wrong stored hash": lambda r: edit_json(stored(r) / "result.json",
                                             lambda d: d.update(network_sha256="0" * 64)),
    "other stored weights": other_weights,
    "truncate stored network": lambda r: truncate(stored(r) / "network.pt"),
    "no stored network": lambda r: (stored(r) / "network.pt").unlink(),
    "stored result without status": lambda r: edit_json(stored(r) / "result.json",
                                                        lambda d: d.pop("status")),
    "stored threads -1": lambda r: edit_json(stored(r) / "result.json",
                                             lambda d: d["provenance"].update(torch_threads=-1)),
    "store is a file": lambda r: (shutil.rmtree(r / "store/results"),
                                  (r / "store/results").write_text("not a store\n")),
    "garble analysis": lambda r: next((r / "store/results/analysis").iterdir()).joinpath(
        "result.json").write_bytes(b"\xff\xfe garbage"),
}

# (id, damage, command line ({root} is the world's copy), culprit in the message)
CASES = [
    ("module size 0", "none", ["grow", *flags(module_size=0), "--out", "{root}/new"],
     "module_size"),
    ("lr nan", "none", ["grow", *flags(lr="nan"), "--out", "{root}/new"], "--lr"),
    ("lr inf", "none", ["grow", *flags(lr="inf"), "--out", "{root}/new"], "--lr"),
    ("noise nan", "none", ["grow", *flags(noise="nan"), "--out", "{root}/new"], "--noise"),
    ("noise -inf", "none", ["grow", *flags(noise="-inf"), "--out", "{root}/new"], "--noise"),
    ("negative noise", "none", ["grow", *flags(noise=-0.1), "--out", "{root}/new"], "noise"),
    ("max n below start", "none", ["grow", *flags(max_n=1), "--out", "{root}/new"], "max_n"),
    ("threads 0", "none", ["grow", *flags(), "--threads", "0", "--out", "{root}/new"],
     "--threads"),
    ("threads 100000", "none", ["grow", *flags(), "--threads", "100000", "--out", "{root}/new"],
     "--threads"),
    ("bench threads 100000", "none", ["bench", "--threads", "100000"], "--threads"),
    ("compute threads 100000", "none", ["compute", "growth", "--threads", "100000"], "--threads"),
    ("bit prob 1.5", "none", ["grow", *flags(bit_prob=1.5), "--out", "{root}/new"],
     "--bit-prob"),
    ("duplicate maybe", "none", ["grow", *flags(duplicate="maybe"), "--out", "{root}/new"],
     "--duplicate"),
    ("gamma on the baseline", "none",
     ["baseline", *flags(gamma=0.5), "--out", "{root}/new"], "gamma"),
    ("empty out", "none", ["grow", *flags(), "--out", ""], "--out"),
    ("out is a file", "none", ["grow", *flags(), "--out", "{root}/file.txt"], "file.txt"),
    ("out under a file", "none", ["grow", *flags(), "--out", "{root}/file.txt/run"],
     "file.txt/run"),
    ("out holds a run", "none", ["grow", *flags(), "--out", "{root}/run"], "{root}/run"),
    ("checkpoints without history", "no history",
     ["grow", *flags(), "--out", "{root}/run", "--resume"], "no history.json"),
    ("resume with another lr", "none",
     ["grow", *flags(lr=0.2), "--out", "{root}/run", "--resume"], "['lr']"),
    ("resume with max n lowered", "none",
     ["grow", *flags(max_n=2), "--out", "{root}/run", "--resume"], "max_n 2"),
    ("resume with stage budget lowered", "none",
     ["grow", *flags(max_steps_per_stage=20), "--out", "{root}/run", "--resume"],
     "max_steps_per_stage 20"),
    ("resume with total budget lowered", "none",
     ["grow", *flags(max_total_steps=39), "--out", "{root}/run", "--resume"],
     "max_total_steps 39"),
    *[(f"resume: {d}", d, ["grow", *flags(), "--out", "{root}/run", "--resume"], culprit)
      for d, culprit in [("garble history", RUN_HIST), ("history is a list", RUN_HIST),
                         ("history skips a stage", RUN_HIST),
                         ("history has an unknown field", RUN_HIST),
                         ("truncate checkpoint", RUN_LAST), ("garbage checkpoint", RUN_LAST),
                         ("no checkpoint", RUN_LAST), ("checkpoint of module size 4", RUN_LAST),
                         ("checkpoint of stage 2", RUN_LAST), ("nan in checkpoint", RUN_LAST),
                         ("checkpoint without rng", RUN_LAST),
                         ("checkpoint with a bad rng", RUN_LAST),
                         ("checkpoint missing a tensor", RUN_LAST),
                         ("history stage without seconds", RUN_HIST)]],
    ("import over a stored result", "none", ["import", "{root}/run"], "result.json"),
    ("import a missing folder", "none", ["import", "{root}/nothing"], "{root}/nothing"),
    *[(f"import: {d}", d, ["import", "{root}/run", "--force"], culprit)
      for d, culprit in [("garble history", RUN_HIST), ("history says running", "'running'"),
                         ("history has no stages", "solved no stage"),
                         ("history has an unknown field", RUN_HIST),
                         ("history stage without seconds", RUN_HIST),
                         ("history stage without accuracy", RUN_HIST),
                         ("truncate checkpoint", RUN_LAST),
                         ("checkpoint of module size 4", RUN_LAST),
                         ("nan in checkpoint", RUN_LAST)]],
    *[(f"results: {d}", d, ["results"], culprit)
      for d, culprit in [("garble stored result", "result.json"),
                         ("stored result is a list", "result.json"),
                         ("stored config nan", "result.json"),
                         ("wrong stored hash", "network.pt"),
                         ("other stored weights", "network.pt"),
                         ("truncate stored network", "network.pt"),
                         ("no stored network", "network.pt"),
                         ("stored result without status", "result.json"),
                         ("store is a file", "store/results is not a folder"),
                         ("garble analysis", "analysis/demo")]],
    *[(f"reproduce: {d}", d, ["reproduce", "{stored}", "--quiet"], culprit)
      for d, culprit in [("garble stored result", "result.json"),
                         ("stored config nan", "result.json"),
                         ("wrong stored hash", "network.pt"),
                         ("no stored network", "network.pt"),
                         ("stored threads -1", "result.json")]],
    ("reproduce an unknown result", "none", ["reproduce", "grow-m99"], "grow-m99"),
    ("compute a bad shard", "none", ["compute", "growth", "--shard", "3"], "--shard"),
]


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("damage, argv, culprit", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_naming_the_culprit(world, tmp_path, monkeypatch, capsys,
                                                            damage, argv, culprit):
    root = tmp_path / "w"
    shutil.copytree(world, root)
    monkeypatch.setenv("MODGROW_RESULTS", str(root / "store" / "results"))
    S[damage](root)
    before = snapshot(root)
    good = [f"{p.parent.name}/{p.name}" for p in (root / "store/results").glob("*/*")]
    def fill(s: str) -> str:
        s = s.replace("{root}", str(root))
        return s.replace("{stored}", str(stored(root))) if "{stored}" in s else s
    capsys.readouterr()
    try:
        rc = main([fill(a) for a in argv])
    except SystemExit as e:  # argparse refuses the flags
        rc = e.code
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert fill(culprit) in lines[0], lines[0]
    assert "Traceback" not in err
    assert snapshot(root) == before
    if argv[0] == "results" and good:  # every readable result is still listed
        listed = {line.split()[0] for line in out.splitlines()}
        assert listed == {g for g in good if g.split("/")[1] not in lines[0]}
        assert len(listed) == len(good) - 1


def test_the_drill_has_enough_cases():
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)


def test_the_undamaged_world_is_accepted(world, tmp_path, monkeypatch, capsys):
    root = tmp_path / "w"
    shutil.copytree(world, root)
    monkeypatch.setenv("MODGROW_RESULTS", str(root / "store" / "results"))
    assert main(["results"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["grow", *flags(), "--out", str(root / "run"), "--resume", "--quiet"]) == 0
    assert main(["import", str(root / "run"), "--force"]) == 0


def test_a_run_that_crashes_ends_failed_and_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    import errno

    from modgrow import training

    def full_disk(path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(training, "save_network", full_disk)
    out = tmp_path / "run"
    assert main(["grow", *flags(), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: [Errno 28] No space left on device"]
    h = json.loads((out / "history.json").read_text())
    assert h["status"] == "failed" and "No space left on device" in h["message"]


def test_reproduce_accepts_a_stored_run_without_a_recorded_commit(world, tmp_path, monkeypatch,
                                                                 capsys):
    """Provenance from before the commit was recorded: reported as unknown, not a KeyError."""
    root = tmp_path / "w"
    shutil.copytree(world, root)
    monkeypatch.setenv("MODGROW_RESULTS", str(root / "store" / "results"))
    edit_json(stored(root) / "result.json", lambda d: d["provenance"].pop("git_commit"))
    assert main(["reproduce", str(stored(root)), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("MATCH") and "stored at unknown" in out


@pytest.mark.parametrize("argv, hint", [
    (["grow", *flags(), "--out", "{tmp}/run", "--quiet"], "--resume"),
    (["compute", "growth", "--quiet"], "resumes the runs"),
])
def test_ctrl_c_ends_with_one_line_and_status_130(tmp_path, monkeypatch, capsys, argv, hint):
    from modgrow import training

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(training, "train_curriculum", interrupted)
    monkeypatch.setattr(store, "train_curriculum", interrupted)
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MODGROW_PROFILE", "quick")
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("interrupted") and hint in err[0], err
