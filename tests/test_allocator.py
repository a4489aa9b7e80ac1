"""The views follower runs under jemalloc where the OS has it (adapters/allocator.py); the
running follower's own memory maps are checked in tests/test_follow_live.py."""

from __future__ import annotations

from adapters.allocator import ENV, jemalloc_environment

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
