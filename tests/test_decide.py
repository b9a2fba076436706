"""The answer decision (rag/decide.py) through the whole pipeline, with fake models: the model's
check of rival facts, and a quoted passage used only when one of its sentences answers."""
import pytest

from rag.config import Settings
from rag.pipeline import Engine

from conftest import FakeEmbedder, FakeGenerator, cite_passage_with, write_corpus

FILES = {
    "final.txt": "In the final, Oakridge United beat Harbor City 3-1 at the Mill Road ground.\n",
    "samples.txt": "At room temperature, sample A conducted 45 siemens per metre and sample B conducted 12 siemens.\n",
    "deals.txt": ("Acme Corp bought Gamma Ltd for $5 million in March 2021. Similar deals were later signed "
                  "with Beta Industries and Delta Foods.\n"),
    "survey.txt": ("The survey team measured the depth of the Lune river with sonar in 2019. Divers were not used "
                   "to measure its depth, because the water was too murky.\n"),
}


class ScoringGenerator(FakeGenerator):
    """A FakeGenerator that can also score continuations: the ones in ``likely`` get 0, others -5."""

    def __init__(self, reply, likely: set[str]):
        super().__init__(reply)
        self.likely = likely
        self.scored: list[list[str]] = []

    def continuation_logprobs(self, prompt, continuations):
        self.scored.append(list(continuations))
        return [0.0 if c in self.likely else -5.0 for c in continuations]


@pytest.fixture
def settings(tmp_path):
    seeds = write_corpus(tmp_path / "seeds", FILES)
    return Settings(seeds_dir=seeds, index_dir=tmp_path / "index", models_dir=tmp_path / "models",
                    chunk_tokens=60, chunk_overlap_tokens=8, top_k=3, candidates=10)


def one_file(tmp_path, name, text):
    """Settings over a corpus of one file."""
    seeds = write_corpus(tmp_path / "seeds", {name: text})
    return Settings(seeds_dir=seeds, index_dir=tmp_path / "index", models_dir=tmp_path / "models",
                    chunk_tokens=60, chunk_overlap_tokens=8, top_k=3, candidates=10)


def ask(settings, generator, question):
    return Engine(settings, embedder=FakeEmbedder(), generator=generator).answer(question)


def test_an_answer_whose_fact_the_model_finds_belongs_elsewhere_is_not_used(tmp_path):
    # worded so that no text check catches it (B's own figure is written without its measure): the
    # model's check does
    settings = one_file(tmp_path, "samples.txt", "At room temperature, sample A conducted 45 siemens per metre "
                                                 "and sample B only 12 after cooling.\n")
    gen = ScoringGenerator(cite_passage_with("siemens", "Sample B reached 45 siemens per metre."), likely={"12"})
    a = ask(settings, gen, "How well did sample B conduct at room temperature?")
    assert gen.scored == [["45", "12"]]
    assert "45 siemens" not in a.answer or a.answer.startswith("The documents say:")
    assert any("fits the question better" in w for w in a.warnings), a.warnings


def test_an_answer_the_model_finds_fits_is_kept(settings):
    gen = ScoringGenerator(cite_passage_with("siemens", "Sample B conducted 12 siemens."), likely={"12"})
    a = ask(settings, gen, "How well did sample B conduct at room temperature?")
    assert gen.scored == [["12", "45"]]
    assert not a.abstained and a.answer.startswith("Sample B conducted 12 siemens [1]"), a.answer


def test_a_winner_the_passage_says_lost_is_not_used_whatever_the_model_scores(settings):
    gen = ScoringGenerator(cite_passage_with("Oakridge", "Harbor City won the final."), likely={"Harbor City"})
    a = ask(settings, gen, "Who won the final?")
    assert "Harbor City won" not in a.answer and gen.scored == []     # the verifier dropped it first


def test_a_statement_without_rival_facts_is_not_scored(settings):
    gen = ScoringGenerator(cite_passage_with("Acme", "Acme Corp paid $5 million for Gamma Ltd."), likely=set())
    a = ask(settings, gen, "How much did Acme Corp pay for Gamma Ltd?")
    assert gen.scored == [] and "$5 million" in a.answer


def test_a_quote_that_does_not_answer_is_not_presented_as_the_answer(settings):
    # The model gives up; the best passage names Beta Industries but says nothing of what it paid.
    a = ask(settings, FakeGenerator("The sum is unknown [1]."), "Similar deals were later signed with Beta Industries for how much?")
    assert a.abstained, a.answer


def test_a_quote_that_answers_is_used_when_the_model_answer_is_not(settings):
    a = ask(settings, FakeGenerator("The price is unknown [1]."), "Acme Corp bought Gamma Ltd for how much in March 2021?")
    assert a.answer.startswith("The documents say: “Acme Corp bought Gamma Ltd for $5 million"), a.answer


def test_asked_what_is_not_so_an_answer_saying_what_is_is_not_used(settings):
    question = "What was not used to measure the depth of the Lune river?"
    a = ask(settings, FakeGenerator(cite_passage_with("sonar", "Sonar was used to measure the depth of the Lune river.")),
            question)
    assert not a.answer.startswith("Sonar was used"), a.answer
    assert any("asks what is not so" in w for w in a.warnings), a.warnings
    a = ask(settings, FakeGenerator(cite_passage_with("sonar", "Divers were not used to measure its depth.")), question)
    assert not a.abstained and a.answer.startswith("Divers were not used"), a.answer


def test_asked_what_is_not_so_a_passage_saying_what_is_is_not_quoted(settings):
    # the model gives up; the one sentence naming the Lune and a year says what was used, not what was not
    a = ask(settings, FakeGenerator("The method is unknown [1]."),
            "In 2019, which method was never used to measure the depth of the Lune river?")
    assert not a.answer.startswith("The documents say: “The survey team"), a.answer


def test_asked_what_is_not_so_a_sentence_denying_something_else_is_no_answer(tmp_path):
    # the answer and its sentence say "not" (of the bridge's safety), and the sentence says it *is* believed
    settings = one_file(tmp_path, "bridge.txt", "Engineers commonly believe that the Ardent Bridge is not safe for "
                                                "lorries heavier than 20 tonnes.\n")
    question = "What is not commonly believed about the Ardent Bridge?"
    a = ask(settings, FakeGenerator(cite_passage_with("Ardent", "It is commonly believed that the Ardent Bridge is "
                                                                "not safe for lorries heavier than 20 tonnes.")), question)
    assert a.abstained, a.answer
    assert any("asks what is not “believed”" in w for w in a.warnings), a.warnings
    a = ask(settings, FakeGenerator("Nothing is said [1]."), question)     # nor is the sentence quoted
    assert a.abstained, a.answer


def test_an_answer_resting_on_a_sentence_that_negates_a_word_of_the_question_is_not_used(tmp_path):
    settings = one_file(tmp_path, "const.txt", (
        "Marten's law of attraction has a constant of proportionality, the Orrin Constant, whose value was "
        "unknown in Marten's lifetime.\n"))
    # 'known' asked, 'unknown' written: the sentence says the opposite, and is not quoted either
    a = ask(settings, FakeGenerator(cite_passage_with("Orrin", "The Orrin Constant.")),
            "Whose value was known in Marten's lifetime?")
    assert a.abstained, a.answer
    assert any("negating prefix" in w for w in a.warnings), a.warnings
    # asked the way the sentence says it, the same answer stands
    a = ask(settings, FakeGenerator(cite_passage_with("Orrin", "The Orrin Constant.")),
            "Whose value was unknown in Marten's lifetime?")
    assert not a.abstained and a.answer.startswith("The Orrin Constant [1]"), a.answer


def test_a_name_in_capitals_is_found_in_the_words_it_abbreviates_when_a_passage_is_quoted(tmp_path):
    settings = one_file(tmp_path, "law.txt", (
        "Legal certainty is a general principle of international law and public law, which predates "
        "European Union law.\n"))
    # the model only repeats the question; the passage answers it, naming the EU in full
    a = ask(settings, FakeGenerator("The laws predate EU law [1]."), "Which laws predate EU law?")
    assert a.answer.startswith("The documents say: “Legal certainty is a general principle"), a.answer
    # a name it does not spell out is not found there
    a = ask(settings, FakeGenerator("The laws predate EA law [1]."), "Which laws predate EA law?")
    assert a.abstained, a.answer


def test_an_answer_resting_on_a_sentence_that_puts_another_word_in_place_of_the_questions_is_not_used(tmp_path):
    settings = one_file(tmp_path, "engines.txt", "The Orrin engine allows several possible future states of its gears.\n")
    reply = cite_passage_with("Orrin", "The Orrin engine allows several possible future states.")
    # 'past' asked, 'future' written around the same words: the sentence is about another thing
    a = ask(settings, FakeGenerator(reply), "Which engine allows several possible past states of its gears?")
    assert a.abstained, a.answer
    assert any("where the question says “past”" in w for w in a.warnings), a.warnings
    # asked with the sentence's own word, the same answer stands
    a = ask(settings, FakeGenerator(reply), "Which engine allows several possible future states of its gears?")
    assert not a.abstained and a.answer.startswith("The Orrin engine allows"), a.answer


def test_the_passage_a_dropped_answer_rests_on_is_quoted_when_it_answers(tmp_path):
    settings = one_file(tmp_path, "marlow.txt", (
        "Marlow was the beloved town of the painter Ida Brandt, which she painted in many of her pictures. "
        "The town lies on the Orre river.\n"))
    # the model says it in its own words; the passage holds its facts but not its relation
    a = ask(settings, FakeGenerator(cite_passage_with("Brandt", "Ida Brandt loved Marlow so much that she kept painting it.")),
            "Who loved Marlow so much that she kept painting it in her pictures?")
    assert a.answer.startswith("The documents say: “Marlow was the beloved town of the painter Ida Brandt"), a.answer
    assert not any("Ida Brandt loved" in c.quote for c in a.citations)


def test_the_passage_a_dropped_answer_rests_on_is_not_quoted_when_it_says_nothing_asked(tmp_path):
    settings = one_file(tmp_path, "veloria.txt", (
        "Long integrated into Velorian society, the Huguenot community is encouraged by the Huguenot Society "
        "of Veloria to conserve its heritage.\n"))
    a = ask(settings, FakeGenerator(cite_passage_with("Veloria", "The native inhabitants of Veloria were called the Huguenot Society.")),
            "What were the native inhabitants of Veloria called?")
    assert a.abstained, a.answer



def test_a_passage_is_quoted_only_when_it_says_something_of_what_is_asked(tmp_path):
    settings = one_file(tmp_path, "norrin.txt",
                        "In 2021 the Norrin Motors Works in Osterhale on the River Lisk delivered 184,877 vehicles.\n")
    # the model's figure is not in the passage; the passage names every name of the question, the year
    # and a number, but says nothing of revenue
    reply = FakeGenerator("Norrin Motors earned $4 billion in 2021 [1].")
    a = ask(settings, reply, "What was the revenue of the Norrin Motors Works in Osterhale on the River Lisk in 2021?")
    assert a.abstained, a.answer
    # asked what it does say, it is quoted
    a = ask(settings, reply, "How many vehicles did the Norrin Motors Works in Osterhale on the River Lisk deliver in 2021?")
    assert a.answer.startswith("The documents say: “In 2021 the Norrin Motors Works"), a.answer


VENN = "Orla Venn is Tarsland's first female leader, rising to power in 2021 after the resignation of Piet Saar."
VENN_MET = "In May 2022 she met Ostran president Kai Lund in Velden, her first meeting with a foreign leader."


def test_an_answer_resting_on_a_passage_that_says_too_little_of_what_is_asked_is_not_used(tmp_path):
    settings = one_file(tmp_path, "venn.txt", f"{VENN}\n\n{VENN_MET}\n")
    # the sentence shares 'leader' with the question and names a person, but says nothing of a meeting
    a = ask(settings, FakeGenerator(cite_passage_with("resignation", VENN)), "Who was the first foreign leader to meet Orla Venn?")
    assert not a.answer.startswith("Orla Venn is Tarsland's first female leader"), a.answer
    assert any("says too little of what the question asks" in w for w in a.warnings), a.warnings
    # the sentence that says it is used
    reply = cite_passage_with("Lund", "Orla Venn met Ostran president Kai Lund in May 2022, her first meeting "
                                      "with a foreign leader.")
    a = ask(settings, FakeGenerator(reply), "Who was the first foreign leader to meet Orla Venn?")
    assert a.answer.startswith("Orla Venn met Ostran president Kai Lund"), a.answer


def test_a_passage_that_says_too_little_of_what_is_asked_for_the_models_answer_is_not_quoted_instead(tmp_path):
    settings = one_file(tmp_path, "venn.txt", f"{VENN}\n")
    a = ask(settings, FakeGenerator(cite_passage_with("resignation", VENN)), "Who was the first foreign leader to meet Orla Venn?")
    # what made the model's answer no answer makes the same sentence, quoted, none
    assert a.abstained, a.answer
    assert any("says too little of what the question asks" in w for w in a.warnings), a.warnings
    # a question the passage does answer still gets it quoted when the model's answer fails
    a = ask(settings, FakeGenerator(cite_passage_with("resignation", "Piet Saar resigned [1].")),
            "Who rose to power in Tarsland after the resignation of Piet Saar?")
    assert a.answer.startswith("The documents say: “Orla Venn is Tarsland's first female leader"), a.answer


def test_a_bare_answer_resting_on_a_sentence_that_says_nothing_of_what_is_asked_is_not_used(tmp_path):
    settings = one_file(tmp_path, "cup.txt", (
        "The Varland Cup final was played in Osterby in May 2022 before 40,000 spectators.\n\n"
        "In the final, keeper Tomas Berg saved two penalties and was named player of the match.\n\n"
        "Harbor City were runners-up, losing the final 3-1 to Oakridge.\n"))
    # a name alone states no relation: the sentence it rests on says nothing of a runner-up
    a = ask(settings, FakeGenerator(cite_passage_with("keeper", "Tomas Berg.")),
            "Who was the runner-up of the Varland Cup?")
    assert not a.answer.startswith("Tomas Berg"), a.answer
    assert any("says too little of what the question asks" in w for w in a.warnings), a.warnings
    # the name from the sentence that says it is used
    a = ask(settings, FakeGenerator(cite_passage_with("runners-up", "Harbor City.")),
            "Who was the runner-up of the Varland Cup?")
    assert a.answer.startswith("Harbor City"), a.answer


def test_a_figure_the_passage_gives_for_another_party_is_not_used_whatever_the_verb(settings):
    # 'sample A conducted 45 … and sample B conducted 12': 45 is A's, and B has its own figure; the
    # text checks see it before the model's check is asked
    gen = ScoringGenerator(cite_passage_with("siemens", "Sample B reached 45 siemens per metre."), likely=set())
    a = ask(settings, gen, "How well did sample B conduct at room temperature?")
    assert "45 siemens" not in a.answer or a.answer.startswith("The documents say:"), a.answer
    assert gen.scored == []


def test_an_answer_to_who_did_an_act_that_does_not_say_the_act_is_not_used(tmp_path):
    seeds = write_corpus(tmp_path / "seeds", {
        "albion.txt": ("Albion won the 1927 championship under the manager Walter Grisby. He led the side to its "
                       "first Varland Cup in 1931, when it beat Dunmarch 2-1 in the final.\n"),
        "reserves.txt": "Tom Udale captained the reserve side for ten seasons.\n"})
    settings = Settings(seeds_dir=seeds, index_dir=tmp_path / "index", models_dir=tmp_path / "models",
                        chunk_tokens=60, chunk_overlap_tokens=8, top_k=3, candidates=10)
    question = "Who captained Albion in the 1931 Varland Cup final?"
    a = ask(settings, FakeGenerator(cite_passage_with("Grisby", "Walter Grisby led the side to its first Varland Cup in 1931, when it beat Dunmarch 2-1 in the final [1].")),
            question)
    assert a.abstained, a.answer      # neither the answer nor the passage says who captained the side
    assert any("does not say who did what the question asks" in w for w in a.warnings), a.warnings
    # asked who managed it, the same answer says the act in a word of the passage
    a = ask(settings, FakeGenerator(cite_passage_with("Grisby", "Walter Grisby managed Albion in 1927 [1].")),
            "Who managed Albion in 1927?")
    assert not a.abstained, a.answer
