"""Build the real data the recipes ship (src/perpetuum/recipes/data/) from the project's shared datasets.

    .venv/bin/python scripts/build_recipe_data.py              # reads ../shared/datasets/{gsm8k,humaneval,tinystories}

Every file is gzip-compressed JSON Lines written with a fixed timestamp, so a rerun on the same input gives the same
bytes. What it writes (data/SOURCE.md says the same for users, with the licences):

- gsm8k_train.jsonl.gz: GSM8K's train problems as {"id", "question", "solution", "answer"}: `solution` is the
  worked text before the "####" line with the calculator annotations (<<48/2=24>>) removed, `answer` the final
  number as written after "####". Train problems sharing a 13-token n-gram with any test question are left out, so
  that a dialogue quoting its problem cannot look like a test leak (4 problems).
- gsm8k_test_questions.jsonl.gz: the 1,319 GSM8K test questions as {"id", "question"}: the reference the math
  dialogues are decontaminated against. Nothing is generated from them.
- humaneval.jsonl.gz: HumanEval's 164 problems as {"task_id", "prompt", "canonical_solution"}: the reference the
  Python exercises are decontaminated against.
- tinystories_exemplars.jsonl.gz: EXEMPLARS short real TinyStories stories ({"id", "story"}, id = position in the
  shared sample), the few-shot examples of recipe:tinystories: 60-120 words, plain ASCII, at least 95 % of their
  words in the recipe's child vocabulary, drawn with a fixed seed from the stories the vocabulary was built from
  (every 10th story is held out for the benchmark and never used).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
OUTPUT = ROOT / "src" / "perpetuum" / "recipes" / "data"
EXEMPLARS = 300
EXEMPLAR_WORDS = (60, 120)
EXEMPLAR_MIN_COMPLIANCE = 0.95
HELD_OUT_EVERY = 10  # scripts/build_child_vocabulary.py leaves out stories 0, 10, 20, ...
SEED = 2305
_CALCULATOR = re.compile(r"<<[^<>]*>>")


def read_jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    print(f"{path}: {len(rows)} rows, {path.stat().st_size:,} bytes")


def gsm8k_rows(shared: Path) -> tuple[list[dict], list[dict]]:
    """(train problems, test questions) as shipped."""
    from perpetuum.pipeline.columns.decontamination import NgramIndex

    test = read_jsonl(shared / "gsm8k" / "test.jsonl.gz")
    test_rows = [{"id": f"test-{i}", "question": row["question"]} for i, row in enumerate(test)]
    index = NgramIndex(13)
    for row in test_rows:
        index.add(row["question"], row["id"])
    train_rows = []
    for i, row in enumerate(read_jsonl(shared / "gsm8k" / "train.jsonl.gz")):
        if index.shared_ngrams(row["question"]):
            continue
        worked, _, final = row["answer"].rpartition("####")
        train_rows.append({
            "id": f"train-{i}",
            "question": row["question"],
            "solution": _CALCULATOR.sub("", worked).strip(),
            "answer": final.strip(),
        })
    return train_rows, test_rows


def humaneval_rows(shared: Path) -> list[dict]:
    return [{key: row[key] for key in ("task_id", "prompt", "canonical_solution")}
            for row in read_jsonl(shared / "humaneval" / "HumanEval.jsonl.gz")]


def exemplar_rows(shared: Path) -> list[dict]:
    from perpetuum.recipes.stories import story_words, vocabulary_compliance

    text = gzip.open(shared / "tinystories" / "stories.txt.gz", "rt", encoding="utf-8").read()
    stories = [story.strip() for story in text.split("<|endoftext|>") if story.strip()]
    low, high = EXEMPLAR_WORDS
    candidates = [
        {"id": i, "story": story}
        for i, story in enumerate(stories)
        if i % HELD_OUT_EVERY != 0
        and story.isascii()
        and low <= len(story_words(story)) <= high
        and vocabulary_compliance(story)["share"] >= EXEMPLAR_MIN_COMPLIANCE
    ]
    chosen = random.Random(SEED).sample(candidates, EXEMPLARS)
    return sorted(chosen, key=lambda row: row["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared datasets folder")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    train, test = gsm8k_rows(args.shared)
    write_jsonl(args.output / "gsm8k_train.jsonl.gz", train)
    write_jsonl(args.output / "gsm8k_test_questions.jsonl.gz", test)
    write_jsonl(args.output / "humaneval.jsonl.gz", humaneval_rows(args.shared))
    write_jsonl(args.output / "tinystories_exemplars.jsonl.gz", exemplar_rows(args.shared))


if __name__ == "__main__":
    main()
