"""The path a question takes: retrieve → select evidence → prompt → generate → verify → Answer.

An Engine holds the loaded index (reloaded when a rebuild switches versions) and shares the
embedding model and the LLM with every other Engine in the process.
"""
from __future__ import annotations

import re
import sys
import threading
import time
import unicodedata
from typing import Iterator

from . import convert, dates, evidence, followup, models, prefix_state, prompt as prompts
from .answer import Answer, Citation, Sources
from .chunk import Chunker
from .config import Settings
from .documents import page_of
from .embed import Embedder, make_embedder
from .errors import ConfigError, IndexMissingError
from .evidence import Passage
from .generate import GenerationStats, Generator, LlamaCppGenerator
from .index import Builder, BuildReport, Snapshot, current_version, load
from .retrieve import Retriever
from .store import StoreConfig
from .decide import decide
from .text import spell_as
from .verify import Verdict, verify

ABSTAIN_TEXT = "The documents do not answer this question."

_shared_lock = threading.Lock()
_embedders: dict[tuple, Embedder] = {}
_generators: dict[tuple, Generator] = {}
_engines: dict[Settings, "Engine"] = {}


def shared_embedder(settings: Settings) -> Embedder:
    key = (settings.embed_model, settings.embed_backend, str(settings.models_dir))
    with _shared_lock:
        if key not in _embedders:
            _embedders[key] = make_embedder(settings)
        return _embedders[key]


def shared_generator(settings: Settings) -> Generator:
    if settings.llm_url:  # an OpenAI-compatible server (llama.cpp's server, vLLM, …) instead of in-process
        from .generate_openai import OpenAIGenerator

        key = (settings.llm_url, settings.llm_model, settings.llm_api_key, settings.n_ctx)
        with _shared_lock:
            if key not in _generators:
                _generators[key] = OpenAIGenerator(settings.llm_url, model=settings.llm_model,
                                                   api_key=settings.llm_api_key, n_ctx=settings.n_ctx)
            return _generators[key]
    name, path = models.resolve(settings.model, settings.models_dir)
    spec = models.known_spec(settings.model)
    path = convert.for_this_cpu(path, spec.sha256 if spec else None, settings.model_variant,
                                log=lambda msg: print(f"rag: {msg}", file=sys.stderr, flush=True))
    key = (str(path), settings.n_ctx, settings.threads)
    with _shared_lock:
        if key not in _generators:
            _generators[key] = LlamaCppGenerator(path, name=name, n_ctx=settings.n_ctx, threads=settings.threads,
                                                 state_dir=prefix_state.state_dir(settings.models_dir))
        return _generators[key]


def make_chunker(settings: Settings, embedder: Embedder) -> Chunker:
    return Chunker(embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap_tokens)


def build_index(settings: Settings, *, dry_run: bool = False, show_progress: bool = False,
                embedder: Embedder | None = None, progress=None) -> BuildReport:
    embedder = embedder or shared_embedder(settings)
    builder = Builder(settings.seeds_dir, settings.index_dir, embedder, make_chunker(settings, embedder),
                      show_progress=show_progress, progress=progress, store=StoreConfig.from_settings(settings))
    return builder.build(dry_run=dry_run)


class Engine:
    def __init__(self, settings: Settings, *, embedder: Embedder | None = None,
                 generator: Generator | None = None):
        self.settings = settings
        self._embedder = embedder
        self._generator = generator
        self._retriever: Retriever | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = shared_embedder(self.settings)
        return self._embedder

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            self._generator = shared_generator(self.settings)
        return self._generator

    def retriever(self) -> Retriever:
        """The retriever for the live index version; loads a new version when a rebuild switched."""
        s = self.settings
        with self._lock:
            live = current_version(s.index_dir)
            if live is None:
                build_index(s, embedder=self.embedder)
                live = current_version(s.index_dir)
                if live is None:
                    raise IndexMissingError(f"no index in {s.index_dir}; run `rag index`")
            if self._retriever is None or self._retriever.snapshot.version != live:
                chunking = make_chunker(s, self.embedder).settings()
                snap = load(s.index_dir, embed_model=self.embedder.name, chunk_settings=chunking,
                            store=StoreConfig.from_settings(s))
                self._retriever = Retriever(snap, self.embedder, candidates=s.candidates)
            return self._retriever

    def warm_up(self) -> None:
        """Load the index and both models, and put the fixed part of the prompt into llama.cpp's
        KV cache, so the first question is as fast as the next ones."""
        retriever = self.retriever()
        evidence.select("warm up", self.embedder.embed_query("warm up"), [], self.embedder)
        retriever.bm25_search("warm up", 1)
        self._prime(self.generator)

    @staticmethod
    def _prime(gen) -> None:
        """The fixed part of the prompt into the model's KV cache, once per model (from a saved state
        when there is one: see ``prefix_state``)."""
        if hasattr(gen, "prime") and not getattr(gen, "primed", ""):
            gen.prime(prompts.fixed_part(gen))

    @property
    def snapshot(self) -> Snapshot:
        return self.retriever().snapshot

    # ------------------------------------------------------------------ answering

    def stream(self, question: str, history=None, sources=None) -> Iterator[object]:
        """``history``: the conversation so far (see ``followup``); only retrieval uses it.
        ``sources``: answer only from these documents (paths, folders or glob patterns; see ``scope``)."""
        s = self.settings
        t0 = time.monotonic()
        question, warnings = self._clean_question(question)
        query = followup.retrieval_query(question, history)
        retriever = self.retriever()
        scope = retriever.scope(sources)
        snap = retriever.snapshot
        qvec = self.embedder.embed_query(query)
        t_embed = time.monotonic()
        stages: dict = {}   # dense_s, bm25_s, fusion_s: the parts of search_s
        hits = retriever.search(query, s.candidates, query_vector=qvec, timings=stages, scope=scope)
        t_search = time.monotonic()
        passages = evidence.select(query, qvec, hits, self.embedder, k=s.top_k)
        t_select = time.monotonic()
        timings = {"embed_s": t_embed - t0, "search_s": t_search - t_embed, "select_s": t_select - t_search,
                   "retrieve_s": t_select - t0, **stages}
        prompt_text = ""
        if passages:  # the prompt fits the context, measured in the model's tokens; passages may give way
            fitted = prompts.fit(question, passages, self.generator, max_answer_tokens=s.max_answer_tokens)
            passages, prompt_text = fitted.passages, fitted.prompt
            warnings.extend(fitted.warnings)
            timings["prompt_build_s"] = time.monotonic() - t_select
        yield Sources(question, [self._citation(p, p.n, snap) for p in passages], timings["retrieve_s"], query)

        draft = ""
        stats = GenerationStats()
        if passages:
            gen = self.generator
            self._prime(gen)
            first = None
            for piece in gen.stream(prompt_text, max_tokens=s.max_answer_tokens, timeout_s=s.answer_timeout_s,
                                    stats=stats):
                if first is None:
                    first = time.monotonic()
                    timings["first_token_s"] = first - t0
                draft += piece
                yield piece
            timings.update(prompt_tokens=stats.prompt_tokens, cached_tokens=stats.cached_tokens,
                           completion_tokens=stats.completion_tokens, prompt_eval_s=stats.prompt_s,
                           generate_s=stats.generate_s)
            if stats.stopped_by == "timeout":
                warnings.append(f"the model was stopped after {s.answer_timeout_s:g} s (the time limit for an answer); "
                                "only what it wrote until then was checked")
            elif stats.stopped_by == "length":
                warnings.append(f"the model was stopped after {s.max_answer_tokens} tokens (the length limit for an "
                                "answer); only what it wrote until then was checked")
        t_verify = time.monotonic()
        stopped = stats.stopped_by in ("timeout", "length")
        verdict = verify(finished_sentences(draft) if stopped else draft, passages, question)
        answer = self._compose(question, passages, verdict, snap, warnings)
        timings["verify_s"] = time.monotonic() - t_verify
        timings.setdefault("first_token_s", None)
        timings["total_s"] = time.monotonic() - t0
        answer.timings = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in timings.items()}
        answer.draft = draft
        answer.model = self.generator.name if passages else ""
        answer.index_version = snap.version
        answer.retrieval_query = query
        yield answer

    def answer(self, question: str, history=None, sources=None) -> Answer:
        result = None
        for event in self.stream(question, history, sources):
            result = event
        assert isinstance(result, Answer)
        return result

    # ------------------------------------------------------------------ helpers

    def _clean_question(self, question: str) -> tuple[str, list[str]]:
        if not isinstance(question, str):
            raise ConfigError("the question must be text")
        warnings = []
        # Control characters (NUL, escapes, …) and lone surrogates cannot be read or encoded: drop them,
        # and a terminal's escape sequence whole (not leaving "[0m" of "\x1b[0m" as words of the question).
        kept = _ESCAPE_SEQUENCE.sub("", question)
        kept = "".join(ch for ch in kept if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cs"))
        if len(kept) != len(question):
            n = len(question) - len(kept)
            warnings.append(f"{n:,} control character{'s' if n != 1 else ''} removed from the question")
        question = " ".join(kept.split())
        if not question:
            raise ConfigError("the question is empty; ask something about the documents")
        if not any(ch.isalnum() for ch in question):
            raise ConfigError("the question has no words, only punctuation; ask something about the documents")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            warnings.append(f"the question was {len(question):,} characters long; only its first {limit:,} were used")
            question = question[:limit]
        return question, warnings

    def _citation(self, p: Passage, n: int, snap: Snapshot) -> Citation:
        from .regions import location

        loc = p.location
        pages = snap.document_pages(loc.source)
        head = p.context[p.context.rfind("\n", 0, p.span[0]) + 1:p.span[0]]   # the quote's line before it
        where = location(snap.document_regions(loc.source), pages, loc.start, loc.end, p.text, head)
        return Citation(n=n, source=loc.source, chunk_id=p.chunk_id, start=loc.start, end=loc.end,
                        quote=p.text, score=round(p.score, 4), page=page_of(pages, loc.start), location=where,
                        also=[{"source": a.source, "start": a.start, "end": a.end, "quote": text} for a, text in p.also])

    def _compose(self, question: str, passages: list[Passage], verdict: Verdict, snap: Snapshot,
                 warnings: list[str]) -> Answer:
        d = decide(question, passages, verdict, self.generator if passages else None)
        warnings.extend(d.notes)
        if d.kind == "answer" and verdict.dropped:
            warnings.append(f"{len(verdict.dropped)} unsupported sentence(s) removed from the answer")
        # why each sentence the model wrote was not used (not the sentence: the draft is no answer)
        warnings.extend(f"a sentence of the model's answer was removed: {why}" for why in verdict.reasons)
        if d.kind == "answer":
            answer = self._cited_answer(question, verdict, {p.n: p for p in passages}, snap, warnings)
        elif d.kind == "quote":
            text = f"The documents say: “{d.passage.text.strip()}” [1]"
            answer = Answer(question, text, False, [self._citation(d.passage, 1, snap)], {}, warnings)
        else:
            answer = self._abstain(question, passages, snap, warnings)
        return answer

    def _cited_answer(self, question: str, verdict: Verdict, by_n: dict[int, Passage], snap: Snapshot,
                      warnings: list[str]) -> Answer:
        renumber: dict[int, int] = {}
        parts = []
        for sent in verdict.sentences:
            marks = "".join(f"[{renumber.setdefault(n, len(renumber) + 1)}]" for n in sent.cites)
            quotes = " ".join(by_n[n].text for n in sent.cites)
            body = spell_as(dates.complete(sent.text.rstrip(), quotes), quotes)
            end = body[-1] if body and body[-1] in ".!?" else "."
            body = body.rstrip(".!?").rstrip()
            parts.append(f"{body} {marks}{end}")
        cites = [self._citation(by_n[old], new, snap) for old, new in renumber.items()]
        return Answer(question, " ".join(parts), False, cites, {}, warnings)

    def _abstain(self, question: str, passages: list[Passage], snap: Snapshot, warnings: list[str]) -> Answer:
        closest = [self._citation(p, i, snap) for i, p in enumerate(passages[:3], 1)]
        return Answer(question, ABSTAIN_TEXT, True, closest, {}, warnings)


# A terminal escape sequence (ECMA-48 CSI, e.g. "\x1b[0m", or a two-character escape).
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-~]")

# The end of a sentence: its mark (not the point of an initial, as in "U.S."), closing quotes or brackets,
# then any citation marks, then a space or the end; or citation marks that end the draft (the mark after
# them was not written yet).
_SENTENCE_END = re.compile(r"(?<!\b[A-Z])[.!?][\"'”’)\]]*(?:\s*\[\d+\])*(?=\s|$)|(?:\s*\[\d+\])+(?=\s*$)")


def finished_sentences(draft: str) -> str:
    """``draft`` up to the end of its last finished sentence: what a model stopped mid-sentence wrote
    whole. An unfinished sentence is not checked, even when its words happen to be in a passage."""
    ends = [m.end() for m in _SENTENCE_END.finditer(draft)]
    return draft[: ends[-1]] if ends else ""


def get_engine(settings: Settings) -> Engine:
    """One engine per distinct Settings (a frozen dataclass: every field is part of the key)."""
    with _shared_lock:
        if settings not in _engines:
            _engines[settings] = Engine(settings)
        return _engines[settings]
