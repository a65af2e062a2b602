import pytest

from productlens.cli.output import NoProgress, make_progress, progress_enabled

pytestmark = pytest.mark.fast


def test_progress_is_silent_when_not_a_terminal_or_in_ci(monkeypatch):
    # pytest captures stderr, so it is not a terminal here
    assert not progress_enabled(quiet=False)
    assert isinstance(make_progress(quiet=False), NoProgress)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    monkeypatch.setenv("CI", "true")
    assert not progress_enabled(quiet=False)
    monkeypatch.delenv("CI")
    assert progress_enabled(quiet=False) and not progress_enabled(quiet=True)
