"""The OpenAI shape of answers, the conversation read back from messages, and the bounded queue."""
from __future__ import annotations

import threading
import time

import pytest

from rag import chat_api, followup
from rag.admission import AdmissionQueue, QueueFull
from rag.answer import Answer, Citation
from rag.errors import ConfigError


def answer(abstained=False) -> Answer:
    quote = "The framework was signed in Tokyo by Prime Minister Sanae Takaichi and the President."
    cites = [Citation(1, "deals/japan.txt", "c1", 10, 10 + len(quote), quote, 0.8, page=3)]
    text = "The documents do not answer this question." if abstained else "It was signed in Tokyo [1]."
    return Answer("Where was it signed?", text, abstained, cites, {"prompt_tokens": 500, "completion_tokens": 9})


def test_content_is_the_answer_then_a_sources_list():
    a = answer()
    content = chat_api.content(a)
    assert content == ("It was signed in Tokyo [1].\n\nSources:\n[1] deals/japan.txt, page 3 [10:95] — “The framework "
                       "was signed in Tokyo by Prime Minister Sanae Takaichi and the President.”")
    assert chat_api.answer_part(content) == a.answer
    abstained = chat_api.content(answer(abstained=True))
    assert "\n\nClosest passages (none answers the question):\n[1]" in abstained
    assert chat_api.usage(a) == {"prompt_tokens": 500, "completion_tokens": 9, "total_tokens": 509}


def test_a_long_quote_is_shortened_in_the_list_but_not_in_the_citations():
    a = answer()
    a.citations[0].quote = "word " * 200
    line = chat_api.sources_text(a).splitlines()[-1]
    assert line.endswith(" …”") and len(line) < chat_api.MAX_QUOTE_CHARS + 60
    assert chat_api.citations(a)[0]["quote"] == "word " * 200


def test_the_conversation_gives_the_question_and_the_history():
    first = chat_api.content(answer())
    conv = chat_api.conversation([
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": [{"type": "text", "text": "Who signed the framework"}, {"type": "text", "text": "for Japan?"}]},
        {"role": "assistant", "content": first},
        {"role": "user", "content": "And where was it signed?"},
    ])
    assert conv.question == "And where was it signed?"
    [turn] = conv.history
    assert turn["question"] == "Who signed the framework\nfor Japan?" and turn["answer"] == "It was signed in Tokyo [1]."
    assert turn["citations"] == [{"quote": answer().citations[0].quote}]
    assert "pirate" not in str(conv)
    # the quotes come back to the follow-up search: the names in them are borrowed (Tokyo is only in the quote)
    assert "Tokyo" in followup.retrieval_query(conv.question, conv.history)


@pytest.mark.parametrize("messages, message", [
    ([], "messages is empty"),
    ([{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}], "last message must be a user"),
    ([{"role": "wizard", "content": "Hi?"}], "no valid role"),
    ([{"role": "user", "content": 42}], "content must be text"),
    ([{"role": "user", "content": "   "}], "last message must be a user"),
])
def test_bad_conversations_are_one_line_errors(messages, message):
    with pytest.raises(ConfigError, match=message):
        chat_api.conversation(messages)


def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_the_queue_lets_one_run_and_a_bounded_number_wait():
    queue = AdmissionQueue(size=2, retry_after=3)
    tickets = [queue.enter() for _ in range(3)]          # one running, two waiting
    with pytest.raises(QueueFull) as full:
        queue.enter()
    assert full.value.retry_after == 3 and "2 question(s) are waiting" in str(full.value)
    order = []
    tickets[0].wait()

    def waiter(i):
        tickets[i].wait()
        order.append(i)
        tickets[i].leave()

    threads = [threading.Thread(target=waiter, args=(i,)) for i in (1, 2)]
    threads[0].start()
    until(lambda: queue._turns.waiting == 1)
    threads[1].start()
    until(lambda: queue._turns.waiting == 2)
    assert order == [] and queue.waiting == 2
    tickets[0].leave()
    tickets[0].leave()                                    # twice is harmless
    for t in threads:
        t.join(5)
    assert order == [1, 2] and queue.inside == 0
    queue.enter().leave()
