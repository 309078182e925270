"""The demo's output: libraries' notices left out, every other warning shown."""

import os
import warnings

import pytest

from spoiler_assets import demo


def test_library_notices_are_left_out_and_other_warnings_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, *args, **kwargs: shown.append(str(message)))
    for name in demo._CHILD_ENV:
        monkeypatch.delenv(name, raising=False)
    demo.quiet_library_notices()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("Use of deprecated class 'DependencyKwarg'", DeprecationWarning, stacklevel=1)
        warnings.warn("\x1b[1;33mAn input example was not provided when logging\x1b[0m", stacklevel=1)
        warnings.warn("3 reviews have no date", stacklevel=1)
        warnings.warn("overflow in the scores", RuntimeWarning, stacklevel=1)
    assert shown == ["3 reviews have no date", "overflow in the scores"]
    assert os.environ["RAY_DATA_DISABLE_PROGRESS_BARS"] == "1"
    assert "ignore::DeprecationWarning" in os.environ["PYTHONWARNINGS"]
