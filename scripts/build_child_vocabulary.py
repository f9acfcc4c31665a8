"""Build the TinyStories recipe's child vocabulary (src/perpetuum/recipes/vocabulary/) from real TinyStories text.

    python -m venv /tmp/vocab && /tmp/vocab/bin/pip install lemminflect==0.2.3
    /tmp/vocab/bin/python scripts/build_child_vocabulary.py            # reads ../shared/datasets/tinystories/

Only this script needs lemminflect (MIT licence; its word-form dictionary is derived from the NIH SPECIALIST
Lexicon); the recipe reads the files it writes and nothing else. What it does, in order:

1. Reads the stories, except every 10th (held out for the benchmark), and splits them into word tokens, noting
   which ones start a sentence.
2. Names: word types written with a capital letter in at least 90 % of their mid-sentence occurrences (Lily, Tom,
   Max), kept in names.txt (the 300 most frequent) and left out of the vocabulary.
3. Lemmas and part of speech: lemminflect's dictionary lists, for each word form, the parts of speech it can be and
   the lemma of each (saw: VERB see, NOUN saw). Where that is ambiguous, the previous word decides when it is a
   clear cue (after "a/the/his...": noun, or adjective when a noun can follow; after "to/will/can/he/she...":
   verb; after "very/so/was/felt...": adjective); tokens with no cue are shared out in proportion to what the cued
   tokens of the same form showed (equally when there were none). Each lemma's tags are the parts of speech that
   got at least 20 % of its tokens, the most frequent first. These tags are heuristic: good enough to draw "a noun,
   a verb and an adjective" for a prompt, not a gold-standard tagging.
4. Function words (determiners, pronouns, prepositions, conjunctions, auxiliaries, common contractions, numbers up
   to twenty, a few interjections) come from the hand-written FUNCTION_WORDS list below, the project's own.
5. The vocabulary is the function words plus the most frequent content lemmas (nouns, verbs, adjectives, adverbs)
   until it holds TARGET_SIZE words; inflections.tsv lists every inflected form lemminflect gives for them.
"""

from __future__ import annotations

import argparse
import gzip
import re
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STORIES = ROOT.parent / "shared" / "datasets" / "tinystories" / "stories.txt.gz"
OUTPUT = ROOT / "src" / "perpetuum" / "recipes" / "vocabulary"
TARGET_SIZE = 1500
NAME_CAPITAL_SHARE = 0.9
MIN_TAG_SHARE = 0.2
MIN_COUNT = 3
HELD_OUT_EVERY = 10

FUNCTION_WORDS = """
a an the this that these those some any every each no other another such what which who whom whose
i me my mine myself you your yours yourself he him his himself she her hers herself it its itself we us our ours
ourselves they them their theirs themselves one ones everyone everything everybody someone something somebody
anyone anything anybody nobody nothing
in on at to from by with about into onto over under up down out off through across around behind below above
between near inside outside before after until till since during without for of like past along toward towards
upon against among beside
and or but so because if when while than then though as
be am is are was were been being do does did done have has had having will would shall should can could may might
must
not n't don't doesn't didn't can't couldn't won't wouldn't isn't aren't wasn't weren't haven't hasn't hadn't
shouldn't mustn't i'm you're he's she's it's we're they're i've you've we've they've i'll you'll he'll she'll
it'll we'll they'll i'd you'd he'd she'd we'd they'd that's there's here's what's let's who's where's
let's there here where why how yes oh wow hello hi bye goodbye please thank thanks okay ok hey yay ouch
two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen
nineteen twenty first second third hundred
all both few many much more most less least very too also just only even still again
now once always never soon later today maybe cannot
""".split()

DETERMINER_CUES = {"a", "an", "the", "his", "her", "my", "your", "their", "our", "its", "this", "these", "those",
                   "some", "every", "each", "many", "lots"}
VERB_CUES = {"to", "will", "would", "can", "could", "should", "must", "might", "did", "didn't", "don't", "doesn't",
             "can't", "won't", "let's", "i", "he", "she", "they", "we", "you", "not"}
ADJECTIVE_CUES = {"very", "so", "too", "really", "is", "was", "are", "were", "am", "be", "felt", "feel", "feels",
                  "looked", "seemed", "became", "got", "get"}
UPOS_TAGS = {"NOUN": "noun", "VERB": "verb", "ADJ": "adjective", "ADV": "adverb"}
PENN_BY_UPOS = {"NOUN": ("NN", "NNS"), "VERB": ("VB", "VBD", "VBG", "VBN", "VBP", "VBZ"),
                "ADJ": ("JJ", "JJR", "JJS"), "ADV": ("RB", "RBR", "RBS")}

TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")


def read_stories(path: Path) -> list[str]:
    text = gzip.open(path, "rt", encoding="utf-8").read()
    return [story.strip() for story in text.split("<|endoftext|>") if story.strip()]


def tokens(story: str) -> list[tuple[str, bool]]:
    """(token as written, starts a sentence) for every word of `story`."""
    found = []
    for match in TOKEN.finditer(story):
        before = story[: match.start()].rstrip(" \t\"'“”‘’(")
        found.append((match.group(0).replace("’", "'"), not before or before[-1] in ".!?:\n"))
    return found


def find_names(stories: list[list[tuple[str, bool]]], function_words: set[str]) -> Counter:
    capital, total = Counter(), Counter()
    for story in stories:
        for word, initial in story:
            word = word.removesuffix("'s")
            if initial or "'" in word or word.lower() in function_words:
                continue
            lower = word.lower()
            total[lower] += 1
            capital[lower] += word[0].isupper()
    return Counter({
        word: total[word] for word in total
        if word != "i" and total[word] >= MIN_COUNT and capital[word] / total[word] >= NAME_CAPITAL_SHARE
    })


def cued_tag(previous: str | None, following: str | None, options: dict, word: str) -> str | None:
    if previous is None:
        return None
    if word.endswith("ing") and "VERB" in options and previous in ADJECTIVE_CUES | VERB_CUES:
        return "VERB"
    if previous in DETERMINER_CUES:
        if "ADJ" in options and following is not None and "NOUN" in _options(following):
            return "ADJ"
        return "NOUN" if "NOUN" in options else None
    if previous in VERB_CUES and "VERB" in options:
        return "VERB"
    if previous in ADJECTIVE_CUES and "ADJ" in options:
        return "ADJ"
    return None


_OPTIONS_CACHE: dict[str, dict] = {}


def _options(word: str) -> dict:
    """{UPOS: lemma} for the content parts of speech lemminflect's dictionary gives `word`."""
    if word not in _OPTIONS_CACHE:
        from lemminflect import getAllLemmas

        _OPTIONS_CACHE[word] = {
            upos: lemmas[0] for upos, lemmas in getAllLemmas(word).items() if upos in UPOS_TAGS and lemmas
        }
    return _OPTIONS_CACHE[word]


def tag_lemmas(stories: list[list[tuple[str, bool]]], names: Counter, function_words: set[str]):
    cued: dict[str, Counter] = defaultdict(Counter)
    uncued: Counter = Counter()
    for story in stories:
        lowered = [word.lower() for word, _ in story]
        for i, word in enumerate(lowered):
            if word in function_words or word in names or "'" in word:
                continue
            options = _options(word)
            if not options:
                continue
            if len(options) == 1:
                cued[word][next(iter(options))] += 1
                continue
            previous = lowered[i - 1] if i > 0 and not story[i][1] else None
            following = lowered[i + 1] if i + 1 < len(lowered) else None
            tag = cued_tag(previous, following, options, word)
            if tag is None:
                uncued[word] += 1
            else:
                cued[word][tag] += 1
    # Lemma counts per part of speech: cued tokens as cued, the rest shared out like the cued ones.
    lemma_counts: dict[str, Counter] = defaultdict(Counter)
    for word in set(cued) | set(uncued):
        options = _options(word)
        seen = cued[word]
        for upos, lemma in options.items():
            share = seen[upos] / sum(seen.values()) if seen else 1 / len(options)
            lemma_counts[lemma][upos] += seen[upos] + uncued[word] * share
    return lemma_counts


def inflections(lemma: str, tags: list[str]) -> set[str]:
    from lemminflect import getAllInflections

    forms = set()
    for upos, name in UPOS_TAGS.items():
        if name in tags:
            for penn, variants in getAllInflections(lemma, upos=upos).items():
                if penn in PENN_BY_UPOS[upos]:
                    forms.update(variant.lower() for variant in variants)
    forms.discard(lemma)
    return forms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=Path, default=DEFAULT_STORIES)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--size", type=int, default=TARGET_SIZE)
    args = parser.parse_args()

    # Every HELD_OUT_EVERY-th story (index 0, 10, 20, ...) is left out, so the benchmark can measure real stories'
    # compliance on text the list was not built from.
    stories = [tokens(story) for i, story in enumerate(read_stories(args.stories)) if i % HELD_OUT_EVERY != 0]
    function_words = set(FUNCTION_WORDS)
    names = find_names(stories, function_words)
    lemma_counts = tag_lemmas(stories, names, function_words)

    ranked = sorted(
        ((lemma, counts) for lemma, counts in lemma_counts.items()
         if lemma.isalpha() and lemma not in function_words and lemma not in names and len(lemma) > 1
         and sum(counts.values()) >= MIN_COUNT),
        key=lambda item: (-sum(item[1].values()), item[0]),
    )
    content_slots = args.size - len(function_words)
    vocabulary: list[tuple[str, list[str], int]] = []
    for lemma, counts in ranked[:content_slots]:
        total = sum(counts.values())
        tags = [UPOS_TAGS[upos] for upos, count in counts.most_common() if count / total >= MIN_TAG_SHARE]
        vocabulary.append((lemma, tags or [UPOS_TAGS[counts.most_common(1)[0][0]]], round(total)))

    args.output.mkdir(parents=True, exist_ok=True)
    with open(args.output / "child_vocabulary.tsv", "w", encoding="utf-8") as out:
        out.write("word\ttags\tcount\n")
        for word in sorted(function_words):
            out.write(f"{word}\tfunction\t0\n")
        for lemma, tags, count in sorted(vocabulary):
            out.write(f"{lemma}\t{','.join(tags)}\t{count}\n")
    with open(args.output / "inflections.tsv", "w", encoding="utf-8") as out:
        out.write("form\tlemma\n")
        # Function words that are also nouns or verbs ("like", "thank", "do", "other") get those inflections too.
        tagged = vocabulary + [(word, ["noun", "verb"], 0) for word in function_words if word.isalpha()]
        rows = sorted({(form, lemma) for lemma, tags, _ in tagged for form in inflections(lemma, tags)
                       if form not in function_words})
        for form, lemma in rows:
            out.write(f"{form}\t{lemma}\n")
    for tag, file_name in (("noun", "nouns.txt"), ("verb", "verbs.txt"), ("adjective", "adjectives.txt")):
        # Prompt words: lemmas whose most frequent tag is this one, most frequent first.
        chosen = [lemma for lemma, tags, _ in vocabulary if tags[0] == tag]
        (args.output / file_name).write_text("\n".join(chosen) + "\n", encoding="utf-8")
    (args.output / "names.txt").write_text(
        "\n".join(name.capitalize() for name, _ in names.most_common(300)) + "\n", encoding="utf-8"
    )
    by_tag = Counter(tags[0] for _, tags, _ in vocabulary)
    print(f"{len(stories)} stories; vocabulary {len(function_words) + len(vocabulary)} words: "
          f"{len(function_words)} function words, " + ", ".join(f"{n} {t}" for t, n in by_tag.most_common())
          + f"; {len(rows)} inflected forms; {min(len(names), 300)} names -> {args.output}")


if __name__ == "__main__":
    main()
