"""The demo (re)trains the suggester when it has no usable model: none yet, unreadable, or trained
before out-of-domain detection existed (a real trained model, copied and altered)."""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib

from callcenter.demo import _model_needs_training
from callcenter.plugins.classifier.training import MODEL_FILE, current_version


def test_demo_trains_only_when_the_model_is_missing_or_stale(trained_model_dir: Path, tmp_path: Path) -> None:
    assert _model_needs_training(tmp_path / "empty") == "first run: no model yet"
    assert _model_needs_training(trained_model_dir) is None

    stale = tmp_path / "stale"
    shutil.copytree(trained_model_dir, stale)
    version = current_version(stale)
    assert version is not None
    model = joblib.load(stale / version / MODEL_FILE)
    model.ood_weights = None  # as saved by the suggester before the out-of-domain gate
    joblib.dump(model, stale / version / MODEL_FILE)
    assert _model_needs_training(stale) == "the current model predates out-of-domain detection"

    (stale / version / MODEL_FILE).write_bytes(b"not a joblib file")
    reason = _model_needs_training(stale)
    assert reason is not None and reason.startswith("the current model cannot be loaded")
