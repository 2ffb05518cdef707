"""``train --if-needed`` (what the demo runs) retrains only when there is no usable model: none yet,
unreadable, or trained before out-of-domain detection existed (a real trained model, copied and altered)."""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib

from callcenter.plugins.classifier.training import MODEL_FILE, current_version, why_retrain


def test_retrains_only_when_the_model_is_missing_or_stale(trained_model_dir: Path, tmp_path: Path) -> None:
    assert why_retrain(tmp_path / "empty") == "first run: no model yet"
    assert why_retrain(trained_model_dir) is None

    stale = tmp_path / "stale"
    shutil.copytree(trained_model_dir, stale)
    version = current_version(stale)
    assert version is not None
    model = joblib.load(stale / version / MODEL_FILE)
    model.ood_weights = None  # as saved by the suggester before the out-of-domain gate
    joblib.dump(model, stale / version / MODEL_FILE)
    assert why_retrain(stale) == "the current model predates out-of-domain detection"

    (stale / version / MODEL_FILE).write_bytes(b"not a joblib file")
    reason = why_retrain(stale)
    assert reason is not None and reason.startswith("the current model cannot be loaded")
