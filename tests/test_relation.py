"""A claim's relation must be stated where its facts are (rag/claim.py, rag/relation.py): every word of
it counts, even when it has only one, in any form of the word; and a role the passage gives to another
party does not state it."""
import pytest

from rag import party
from rag.text import said_in_any_form
from rag.verify import support

SCORE = "The film Grey Harbour premiered at the Lido festival in 2018. Its score was composed by Karl Jansson."
FINAL = "Calder won its second Orrin Cup title after defeating Mirren 4-2 in the 2018 final at Tarn Park."


@pytest.mark.parametrize("claim_text, passage, question, supported", [
    # one word of relation, from the question, put between names the passage holds
    ("Karl Jansson directed Grey Harbour.", SCORE, "Who directed Grey Harbour?", False),
    ("Karl Jansson composed the score of Grey Harbour.", SCORE, "Who composed the score of Grey Harbour?", True),
    ("The runner-up of the 2018 Orrin Cup was Calder.", FINAL, "Who was the runner-up of the 2018 Orrin Cup?", False),
    ("The champion of the 2018 Orrin Cup was Tarn Park.", FINAL, "Who was the champion of the 2018 Orrin Cup?", False),
    ("Calder won the 2018 Orrin Cup final.", FINAL, "Who won the 2018 Orrin Cup final?", True),
    # the same word as a noun, or the doer's noun
    ("The Vell rebels seized the Tarn fortress in November 1979.",
     "The seizure of the Tarn fortress by Vell rebels in November 1979 shook the region.",
     "When did the Vell rebels seize the Tarn fortress?", True),
    ("Calder won the 2018 Orrin Cup.", "The winner of the 2018 Orrin Cup was Calder, ahead of Mirren.",
     "Who won the 2018 Orrin Cup?", True),
])
def test_every_word_of_the_relation_counts_even_one(claim_text, passage, question, supported):
    s = support(claim_text, passage, question, passage)
    assert s.ok is supported, s


def test_a_word_of_the_question_may_be_said_in_a_heading_above_the_statement():
    passage = "Day 1 goes without issue. Day 2 – Ropers\nAfter a few miles of tunnel, you emerge in a grotto."
    assert support("On day 2 you emerge in a grotto [1].", passage, "What happens on day 2?").ok
    # not in a sentence above: 'won' there is said of something else
    passage = "It won the Caldmark Award in 2012. The KG-7 was shortlisted for the Brannock Prize in 2019."
    assert not support("The KG-7 won the Brannock Prize in 2019.", passage, "Which prize did the KG-7 win in 2019?",
                       passage).ok


@pytest.mark.parametrize("word, stems, said", [
    ("seiz", {"seizur"}, True), ("acquir", {"acquisit"}, True), ("decid", {"decis"}, True),
    ("win", {"winner"}, True), ("winner", {"win"}, True), ("direct", {"compos"}, False), ("win", {"wine"}, False),
])
def test_a_word_is_said_in_any_form_of_its_root(word, stems, said):
    assert said_in_any_form(word, stems) is said


DEALS = ("Acme Corp bought Gamma Ltd for $5 million in March 2021. Gamma's founder, Rosa Alvarez, stayed on as "
         "chief engineer.")


@pytest.mark.parametrize("claim_text, passage, question, supported", [
    ("Rosa Alvarez founded Acme Corp.", DEALS, "Who founded Acme Corp?", False),
    ("Rosa Alvarez founded Gamma Ltd.", DEALS, "Who founded Gamma Ltd?", True),
    ("The president of the Orrin League is Dana Holt.", "Calder Rovers president Dana Holt wants the Orrin League "
     "to grow.", "Who is the president of the Orrin League?", False),
    ("The president of Calder Rovers is Dana Holt.", "Calder Rovers president Dana Holt wants the Orrin League "
     "to grow.", "Who is the president of Calder Rovers?", True),
    # one mention of the role that is not another's is enough
    ("Velm became the capital of the Kingdom of Orra in 1596.", "Between the Commonwealth's capitals of Tarn and "
     "Lisk, Velm became the capital of the Kingdom of Orra in 1596.",
     "When did Velm become the capital of the Kingdom of Orra?", True),
])
def test_a_role_of_another_party_does_not_state_the_relation(claim_text, passage, question, supported):
    s = support(claim_text, passage, question, passage)
    assert s.ok is supported, s


def test_the_reason_names_whose_role_the_passage_speaks_of():
    why = party.role_of_another({"found"}, "Gamma's founder, Rosa Alvarez, stayed on.", {"rosa", "alvarez", "acme"})
    assert why == "the passage speaks of the founder of Gamma, not of a party the claim names"
    assert party.role_of_another({"found"}, "The founder, Rosa Alvarez, stayed on.", {"rosa", "alvarez"}) == ""


def test_a_role_after_its_or_their_is_the_role_of_the_party_the_sentence_opened_with():
    passage = ("The Marlhaven Rovers appointed Ilse Brandt as their new director on Monday, the first woman in "
               "Varland Football League history to hold the post.")
    assert not support("The director of the Varland Football League is Ilse Brandt.", passage,
                       "Who is the director of the Varland Football League?", passage).ok
    assert support("Ilse Brandt is the new director of the Marlhaven Rovers.", passage,
                   "Who is the director of the Marlhaven Rovers?", passage).ok
    # 'her' may mean the person just named, not the party the sentence opened with: not read so
    assert party.role_of_another({"director"}, "Acme hired Ilse Brandt as her own director.", {"ilse", "brandt"}) == ""
