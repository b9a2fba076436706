"""`rag` with the fake embedder and generator of conftest, for tests that start a server process:

    python tests/run_with_fakes.py mcp --seeds DIR --index DIR
"""
from __future__ import annotations

import sys

import rag.pipeline
from rag.cli import main

from conftest import FakeEmbedder, FakeGenerator, echo_passage

if __name__ == "__main__":
    embedder, generator = FakeEmbedder(), FakeGenerator(echo_passage(1))
    rag.pipeline.shared_embedder = lambda settings: embedder
    rag.pipeline.shared_generator = lambda settings: generator
    sys.exit(main(sys.argv[1:]))
