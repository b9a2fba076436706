"""Build the long-article evaluation set of README's "Measured" from a SQuAD 2.0 development file
(CC BY-SA 4.0; not in this repository: any copy of ``dev-v2.0.json`` with its 16 articles).

    .venv/bin/python docs/squad_articles.py dev-v2.0.json OUT/
    .venv/bin/rag eval OUT/qa.dev.jsonl --seeds OUT/corpus

Each article becomes one text file (its paragraphs, a blank line between them) in ``OUT/corpus``.
Per article, the 6 answerable and the 3 unanswerable questions whose ids come first by SHA-1 are
kept (``--answerable 16 --unanswerable 13`` keeps more: the larger halves of README's "Measured",
which hold the smaller ones); the 8 articles whose titles come first by SHA-1 form the dev half, the other 8 the test half
(``OUT/qa.dev.jsonl``, ``OUT/qa.test.jsonl``, the format of ``rag eval``). The choice depends on
nothing but the file, so anyone with it gets the same rows.
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

ANSWERABLE, UNANSWERABLE, HALF = 6, 3, 8


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _rows(article: dict, answerable: int = ANSWERABLE, unanswerable: int = UNANSWERABLE) -> list[dict]:
    source = f"{article['title']}.txt"
    questions = [q for p in article["paragraphs"] for q in p["qas"]]
    rows = []
    for impossible, n in ((False, answerable), (True, unanswerable)):
        chosen = sorted((q for q in questions if bool(q.get("is_impossible")) == impossible),
                        key=lambda q: _sha1(q["id"]))[:n]
        for q in chosen:
            texts = list(dict.fromkeys(a["text"].strip() for a in q["answers"] if a["text"].strip()))
            rows.append({"id": q["id"], "question": q["question"].strip(),
                         "answers": [] if impossible else [texts], "sources": [source],
                         "answerable": not impossible})
    return rows


def build(squad_file: Path, out: Path, answerable: int = ANSWERABLE, unanswerable: int = UNANSWERABLE) -> dict[str, int]:
    articles = json.loads(squad_file.read_text(encoding="utf-8"))["data"]
    (out / "corpus").mkdir(parents=True, exist_ok=True)
    for article in articles:
        text = "\n\n".join(p["context"].strip() for p in article["paragraphs"])
        (out / "corpus" / f"{article['title']}.txt").write_text(text + "\n", encoding="utf-8")
    ordered = sorted(articles, key=lambda a: _sha1(a["title"]))
    counts = {}
    for half, group in (("dev", ordered[:HALF]), ("test", ordered[HALF:])):
        rows = [row for article in group for row in _rows(article, answerable, unanswerable)]
        with open(out / f"qa.{half}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        counts[half] = len(rows)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("squad_file", type=Path, help="SQuAD 2.0 development file (dev-v2.0.json)")
    parser.add_argument("out", type=Path, help="folder to write corpus/, qa.dev.jsonl and qa.test.jsonl to")
    parser.add_argument("--answerable", type=int, default=ANSWERABLE, help="answerable questions per article")
    parser.add_argument("--unanswerable", type=int, default=UNANSWERABLE, help="unanswerable questions per article")
    args = parser.parse_args()
    for half, n in build(args.squad_file, args.out, args.answerable, args.unanswerable).items():
        print(f"{half}: {n} questions")


if __name__ == "__main__":
    main()
