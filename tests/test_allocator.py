"""The views follower runs under jemalloc where the OS has it (adapters/allocator.py); the
running follower's own memory maps are checked in tests/test_follow_live.py."""

from __future__ import annotations

import pytest

from adapters.allocator import ENV, jemalloc_environment
from adapters.message_size import ConfigurationError

LIB = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"


def on_disk(*paths: str):
    return lambda p: p in paths


def test_the_follower_runs_again_with_jemalloc_preloaded_where_the_library_is():
    env = jemalloc_environment({"PATH": "/usr/bin"}, [LIB, "/usr/lib64/libjemalloc.so.2"], on_disk(LIB))
    assert env == {"PATH": "/usr/bin", "LD_PRELOAD": LIB}


def test_a_preload_of_the_users_own_is_kept_beside_it():
    env = jemalloc_environment({"LD_PRELOAD": "/opt/trace.so"}, [LIB], on_disk(LIB))
    assert env is not None and env["LD_PRELOAD"] == f"{LIB} /opt/trace.so"


def test_no_second_start_when_it_is_preloaded_missing_or_declined():
    assert jemalloc_environment({"LD_PRELOAD": LIB}, [LIB], on_disk(LIB)) is None  # the start after the first
    assert jemalloc_environment({}, [LIB], on_disk()) is None
    assert jemalloc_environment({ENV: "system"}, [LIB], on_disk(LIB)) is None


def test_an_allocator_it_does_not_know_is_refused_naming_the_two_it_does(tmp_path, capsys, monkeypatch):
    from adapters.cli import main

    with pytest.raises(ConfigurationError, match="TICKETLEDGER_ALLOCATOR='jemaloc': write jemalloc .* or system"):
        jemalloc_environment({ENV: "jemaloc"}, [LIB], on_disk(LIB))
    monkeypatch.setenv(ENV, "jemaloc")
    code = main(["--lang", "en", "--data-dir", str(tmp_path), "views", "follow", "--max-seconds", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "TICKETLEDGER_ALLOCATOR='jemaloc': write jemalloc" in err and "Traceback" not in err
    assert not (tmp_path / "views.duckdb").exists()  # nothing started
