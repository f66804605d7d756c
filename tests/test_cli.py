"""The `mmlens` command line: attention figures, zero-shot probabilities, clean errors."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmlens import cli

MODEL = "mmlens-tiny-clip"  # our architecture with random weights: offline and fast


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.jpg"  # not square, not the model's size: the preprocess handles it
    Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize("method", ["rollout", "relevancy"])
def test_attention_writes_a_png(photo, tmp_path, capsys, method):
    out = tmp_path / "figs" / f"{method}.png"
    rc = cli.main(["attention", str(photo), "a red circle", "--model", MODEL, "-o", str(out), "--method", method])
    assert rc == 0
    with Image.open(out) as img:
        assert img.format == "PNG" and img.width > 300
    assert method in capsys.readouterr().out


def test_zero_shot_prints_a_probability_per_label(photo, capsys):
    rc = cli.main(["zero-shot", str(photo), "--labels", "red,green,blue", "--model", MODEL, "--template", "a {} circle"])
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert sorted(line.split()[0] for line in lines) == ["blue", "green", "red"]
    probs = [float(line.split()[1]) for line in lines]
    assert abs(sum(probs) - 1) < 0.01 and probs == sorted(probs, reverse=True)


def test_cli_loads_models_through_mmlens_load_model(photo, monkeypatch, capsys):
    from mmlens import zoo

    calls = []
    real = zoo.load_model
    monkeypatch.setattr(zoo, "load_model", lambda name=None: calls.append(name) or real(MODEL))
    assert cli.main(["zero-shot", str(photo), "--labels", "a,b", "--model", "tiny-clip"]) == 0
    assert calls == ["tiny-clip"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["zero-shot", "{bad}", "--labels", "a,b", "--model", MODEL], "not an image file"),
        (["zero-shot", "{missing}", "--labels", "a,b", "--model", MODEL], "no such file"),
        (["zero-shot", "{photo}", "--labels", "a,b", "--model", "no-such-model"], "no-such-model"),
        (["zero-shot", "{photo}", "--labels", "a", "--model", MODEL], "at least two"),
        (["zero-shot", "{photo}", "--labels", "a,b", "--template", "a photo", "--model", MODEL], "must contain '{}'"),
        (["attention", "{bad}", "a circle", "--model", MODEL], "not an image file"),
        (["attention", "{photo}", "a circle", "--model", "ViT-Nonexistent-1"], "unknown model"),
    ],
)
def test_errors_exit_non_zero_with_one_line(photo, tmp_path, capsys, argv, message):
    bad = tmp_path / "bad.png"
    bad.write_text("this is not a png")
    paths = {"{bad}": str(bad), "{missing}": str(tmp_path / "missing.png"), "{photo}": str(photo)}
    argv = [paths.get(a, a) for a in argv]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.startswith("mmlens ")


def test_argparse_rejects_unknown_method(photo, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["attention", str(photo), "a circle", "--method", "magic"])
    assert exc.value.code == 2
    assert "invalid choice: 'magic'" in capsys.readouterr().err


def test_console_script_errors_have_no_traceback(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\x00\x01 not a jpeg")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "mmlens.cli", "zero-shot", str(bad), "--labels", "a,b"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 1
    assert "cannot read image" in proc.stderr and "Traceback" not in proc.stderr
