"""`rag watch`: the index follows the corpus folder (a real folder, real file-system events)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.config import Settings
from rag.index import load
from rag.pipeline import build_index
from rag.watch import Watcher

from conftest import FakeEmbedder, write_corpus


def wait_for(condition, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def indexed_sources(index_dir: Path) -> set[str]:
    try:
        return set(load(index_dir, verify=False).manifest["files"])
    except Exception:
        return set()


@pytest.fixture
def watched(tmp_path):
    seeds = write_corpus(tmp_path / "seeds", {"a.txt": "The lighthouse at Harbour Point was built in 1871.\n"})
    settings = Settings(seeds_dir=seeds, index_dir=seeds / ".index", models_dir=tmp_path / "no-models",
                        chunk_tokens=40, chunk_overlap_tokens=8)
    reports = []
    watcher = Watcher(settings, debounce_s=0.3, build=lambda: build_index(settings, embedder=FakeEmbedder()),
                      on_report=reports.append)
    watcher.start()
    yield seeds, settings.index_dir, reports, watcher
    watcher.stop()


def test_files_added_changed_and_removed_are_indexed_once_the_folder_is_quiet(watched):
    seeds, index_dir, reports, watcher = watched
    assert wait_for(lambda: reports) and indexed_sources(index_dir) == {"a.txt"}

    # A batch of files saved together is one rebuild.
    for i in range(3):
        (seeds / f"new{i}.txt").write_text(f"Note {i}: the ferry leaves at {i + 6} o'clock.\n")
        time.sleep(0.05)
    assert wait_for(lambda: indexed_sources(index_dir) == {"a.txt", "new0.txt", "new1.txt", "new2.txt"})
    assert wait_for(lambda: len(reports) == 2), [r.summary().splitlines()[0] for r in reports]
    assert reports[1].added == ["new0.txt", "new1.txt", "new2.txt"]

    (seeds / "a.txt").write_text("The lighthouse at Harbour Point was built in 1872.\n")
    assert wait_for(lambda: len(reports) == 3) and reports[2].changed == ["a.txt"]
    (seeds / "new1.txt").unlink()
    (seeds / "sub").mkdir()
    (seeds / "new2.txt").rename(seeds / "sub" / "moved.txt")
    assert wait_for(lambda: indexed_sources(index_dir) == {"a.txt", "new0.txt", "sub/moved.txt"})
    time.sleep(1.0)
    assert watcher.rebuilds == len(reports)      # the index folder inside the corpus set off no rebuild
    count = len(reports)
    time.sleep(1.0)
    assert len(reports) == count, "the watcher rebuilt without a change"


def test_a_failed_rebuild_is_reported_and_watching_goes_on(tmp_path):
    seeds = write_corpus(tmp_path / "seeds", {"a.txt": "Some text about bread.\n"})
    settings = Settings(seeds_dir=seeds, index_dir=tmp_path / "index", models_dir=tmp_path / "no-models")
    calls, errors = [], []

    def build():
        calls.append(1)
        if len(calls) == 1:
            from rag.errors import CorpusError
            raise CorpusError("nothing to index")
        return "ok"

    watcher = Watcher(settings, debounce_s=0.2, build=build, on_error=errors.append).start()
    try:
        assert wait_for(lambda: errors) and "nothing to index" in str(errors[0])
        (seeds / "b.txt").write_text("More.\n")
        assert wait_for(lambda: watcher.rebuilds == 1)
    finally:
        watcher.stop()


def test_rag_watch_command_rebuilds_and_stops_on_interrupt(tmp_path):
    seeds = write_corpus(tmp_path / "seeds", {"a.txt": "The bakery opens at six.\n"})
    index_dir = tmp_path / "index"
    hook = tmp_path / "hook.py"     # the command with the fake embedder: no model is loaded
    hook.write_text("import sys, rag.pipeline\nsys.path.insert(0, %r)\nfrom conftest import FakeEmbedder\n"
                    "rag.pipeline.shared_embedder = lambda settings: FakeEmbedder()\n"
                    "from rag.cli import main\nsys.exit(main(sys.argv[1:]))\n" % str(Path(__file__).parent))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    # Ctrl+C reaches the command as in a terminal, even if something in this test process has set
    # SIGINT to be ignored (a child inherits that, and Python then never raises KeyboardInterrupt).
    proc = subprocess.Popen([sys.executable, str(hook), "watch", "--seeds", str(seeds), "--index", str(index_dir),
                             "--debounce", "0.3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert wait_for(lambda: indexed_sources(index_dir) == {"a.txt"}, 60)
        (seeds / "b.txt").write_text("The ferry leaves at seven.\n")
        assert wait_for(lambda: indexed_sources(index_dir) == {"a.txt", "b.txt"}, 60)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    assert out.count("watching") == 2 and "1 added" in out


def test_the_chat_window_can_watch_the_folder(tmp_path, monkeypatch):
    import rag.pipeline
    from ui.app import ChatHandlers

    monkeypatch.setattr(rag.pipeline, "shared_embedder", lambda settings: FakeEmbedder())
    seeds = write_corpus(tmp_path / "seeds", {"a.txt": "The bakery opens at six.\n"})
    settings = Settings(seeds_dir=seeds, index_dir=tmp_path / "index", models_dir=tmp_path / "no-models")
    handlers = ChatHandlers(settings)
    assert "Watching the folder" in handlers.watch_folder(True)
    try:
        (seeds / "b.txt").write_text("The ferry leaves at seven.\n")
        assert wait_for(lambda: indexed_sources(settings.index_dir) == {"a.txt", "b.txt"}, 60)
    finally:
        assert "No longer watching" in handlers.watch_folder(False)
    (seeds / "c.txt").write_text("The market is on Fridays.\n")
    time.sleep(3 * 2.0)
    assert indexed_sources(settings.index_dir) == {"a.txt", "b.txt"}      # not watched any more
