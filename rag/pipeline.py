"""The path a question takes: retrieve → select evidence → prompt → generate → verify → Answer.

An Engine holds the loaded index (reloaded when a rebuild switches versions) and shares the
embedding model and the LLM with every other Engine in the process.
"""
from __future__ import annotations

import re
import threading
import time
import unicodedata
from typing import Iterator

from . import answerable, dates, evidence, followup, models, prompt as prompts
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
from .text import content_words, spell_as
from .verify import Verdict, verify

ABSTAIN_TEXT = "The documents do not answer this question."
# An unverifiable draft is replaced by the best passage, quoted, only when that passage is clearly
# about the question: close in meaning and sharing most of its content words.
EXTRACTIVE_MIN_COSINE = 0.55
EXTRACTIVE_MIN_OVERLAP = 0.6
# A model answer citing a passage this far below the best passage's relevance score is not trusted.
WEAK_CITATION_GAP = 0.3
# ... unless the answer states the kind of fact the question asks for (a number, a date, a name).
WEAK_CITATION_GAP_TYPED = 0.5

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
    key = (str(path), settings.n_ctx, settings.threads)
    with _shared_lock:
        if key not in _generators:
            _generators[key] = LlamaCppGenerator(path, name=name, n_ctx=settings.n_ctx, threads=settings.threads)
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
        gen = self.generator
        prefix = gen.render(prompts.prefix_messages())
        for _ in gen.stream(prefix, max_tokens=1, timeout_s=self.settings.answer_timeout_s):
            pass

    @property
    def snapshot(self) -> Snapshot:
        return self.retriever().snapshot

    # ------------------------------------------------------------------ answering

    def stream(self, question: str, history=None) -> Iterator[object]:
        """``history``: the conversation so far (see ``followup``); only retrieval uses it."""
        s = self.settings
        t0 = time.monotonic()
        question, warnings = self._clean_question(question)
        query = followup.retrieval_query(question, history)
        retriever = self.retriever()
        snap = retriever.snapshot
        qvec = self.embedder.embed_query(query)
        t_embed = time.monotonic()
        stages: dict = {}   # dense_s, bm25_s, fusion_s: the parts of search_s
        hits = retriever.search(query, s.candidates, query_vector=qvec, timings=stages)
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

    def answer(self, question: str, history=None) -> Answer:
        result = None
        for event in self.stream(question, history):
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
        loc = p.location
        page = page_of(snap.document_pages(loc.source), loc.start)
        return Citation(n=n, source=loc.source, chunk_id=p.chunk_id, start=loc.start, end=loc.end,
                        quote=p.text, score=round(p.score, 4), page=page,
                        also=[{"source": a.source, "start": a.start, "end": a.end, "quote": text} for a, text in p.also])

    def _compose(self, question: str, passages: list[Passage], verdict: Verdict, snap: Snapshot,
                 warnings: list[str]) -> Answer:
        by_n = {p.n: p for p in passages}
        kind = answerable.expected_kind(question)
        quotable: list[Passage] = []   # passages worth quoting when the model's answer is not used
        if verdict.supported:
            cited = [by_n[n] for sent in verdict.sentences for n in sent.cites]
            text = " ".join(sent.text for sent in verdict.sentences)
            problem = self._off_topic(question, cited, passages)
            if not problem and answerable.adds_nothing(question, text):
                problem = "it only repeats the question"
            if not problem and answerable.unrelated(question, text):
                problem = "it shares no word with the question"
            if not problem and kind == "time" and answerable.other_year(question, text):
                problem = "its date is in another year than the one the question names"
            if not problem:
                problem = answerable.names_part_of_list(question, text, " ".join(p.text for p in cited))
            if not problem:
                beaten = answerable.beaten_winner(question, text, " ".join(p.text for p in passages))
                if beaten:
                    problem = f"the passages say {beaten} lost"
            gap = WEAK_CITATION_GAP_TYPED if kind and answerable.has_kind(text, kind, question) else WEAK_CITATION_GAP
            if not problem and max(p.score for p in cited) < passages[0].score - gap:
                problem = "it cites a passage much less related to the question than the best one"
            if not problem and not answerable.has_kind(text, kind, question):
                problem = f"the model's answer states no {kind}, which the question asks for"
                # The model found a passage that backs its sentence but took the wrong part of it:
                # that passage may still state the kind of fact asked for.
                quotable = [p for p in {p.n: p for p in cited}.values() if answerable.has_kind(p.text, kind, question)
                            and not self._off_topic(question, [p], passages)]
            if not problem:
                if verdict.dropped:
                    warnings.append(f"{len(verdict.dropped)} unsupported sentence(s) removed from the answer")
                return self._cited_answer(question, verdict, by_n, snap, warnings)
            warnings.append(f"the model's answer was not used: {problem}")
        best = next(iter(quotable), None) or next(
            (p for p in passages if self._clearly_about(question, p)
             and answerable.has_kind(p.text, kind, question)
             and not self._off_topic(question, [p], passages)), None)
        if best is not None and not verdict.refused:
            text = f"The documents say: “{best.text.strip()}” [1]"
            warnings.append("the passage the model's answer came from is quoted instead" if best in quotable
                            else "the best matching passage is quoted instead of a model-written answer")
            return Answer(question, text, False, [self._citation(best, 1, snap)], {}, warnings)
        return self._abstain(question, passages, snap, warnings)

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

    @staticmethod
    def _off_topic(question: str, cited: list[Passage], passages: list[Passage]) -> str:
        """Why the cited passages cannot be the answer to this question, or '' when they can."""
        names = answerable.missing_names(question, " ".join(p.context for p in cited),
                                         found=" ".join(p.context for p in passages))
        if names:
            return f"the cited passages do not mention {', '.join(names)}"
        rare = answerable.missing_rare_terms(question, " ".join(p.context for p in passages))
        if rare:
            return f"the documents found do not mention {', '.join(rare)}"
        return answerable.missing_focus(question, " ".join(p.context for p in cited))

    @staticmethod
    def _clearly_about(question: str, passage: Passage) -> bool:
        qwords = set(content_words(question))
        if not qwords:
            return False
        overlap = len(qwords & set(content_words(passage.text))) / len(qwords)
        return passage.cosine >= EXTRACTIVE_MIN_COSINE and overlap >= EXTRACTIVE_MIN_OVERLAP


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
