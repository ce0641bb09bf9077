"""The station service's one long-lived run thread: every run in the same thread, one at a
time; a failing job does not end it; at interpreter exit a run in progress is finished and an
idle thread does not keep the process alive."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from edge.service.run_thread import RunThread


def test_jobs_run_one_after_another_in_one_thread():
    runs = RunThread()
    seen: list[int] = []
    try:
        for _ in range(3):
            runs.submit(lambda: seen.append(threading.get_ident()))
            assert runs.wait_idle(10)
        assert len(seen) == 3 and len(set(seen)) == 1 and seen[0] != threading.get_ident()
    finally:
        runs.stop(10)


def test_a_second_job_while_one_runs_is_refused_and_a_failing_job_does_not_end_it():
    runs = RunThread()
    release = threading.Event()
    try:
        runs.submit(release.wait)
        assert runs.busy()
        with pytest.raises(RuntimeError):
            runs.submit(lambda: None)
        release.set()
        assert runs.wait_idle(10) and not runs.busy()
        runs.submit(lambda: 1 / 0)
        assert runs.wait_idle(10)
        done = threading.Event()
        runs.submit(done.set)
        assert done.wait(10)
    finally:
        runs.stop(10)


def test_stop_lets_the_job_finish_then_refuses_new_ones():
    runs = RunThread()
    finished = threading.Event()
    runs.submit(finished.set)
    runs.stop(10)
    assert finished.is_set() and not runs.busy()
    with pytest.raises(RuntimeError):
        runs.submit(lambda: None)


def test_interpreter_exit_finishes_the_run_in_progress_and_does_not_wait_on_an_idle_thread(
        tmp_path):
    done = tmp_path / "done"
    code = textwrap.dedent(f"""
        import threading, time
        from edge.service.run_thread import RunThread
        idle = RunThread("idle")
        idle.submit(lambda: None)
        idle.wait_idle()
        busy = RunThread("busy")
        started = threading.Event()
        def job():
            started.set()
            time.sleep(0.3)  # still running when the main thread returns
            open({str(done)!r}, "w").write("ok")
        busy.submit(job)
        started.wait()
    """)
    proc = subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert done.read_text() == "ok"


def test_a_thread_stopped_before_its_first_job_refuses_jobs():
    """The executor is made with the first job (a station starts without concurrent.futures);
    stopped before that, it still refuses new ones and has nothing to wait for."""
    runs = RunThread()
    assert runs.wait_idle(timeout=0) and not runs.busy()
    runs.stop(timeout=5)
    with pytest.raises(RuntimeError):
        runs.submit(lambda: None)
