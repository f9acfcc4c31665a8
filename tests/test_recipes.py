"""Recipes by name, the child vocabulary, and the TinyStories checks (no model needed here; see
test_recipes_embedded.py for whole runs)."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

from perpetuum.cli import app
from perpetuum.pipeline.spec import SpecError, load_spec
from perpetuum.recipes import (
    RECIPES_FOLDER,
    RecipeError,
    available_recipes,
    describe_recipes,
    load_recipe,
    recipe_path,
)
from perpetuum.recipes.stories import (
    VOCABULARY_FOLDER,
    check_length,
    check_required_words,
    check_vocabulary,
    load_vocabulary,
    vocabulary_compliance,
    word_forms,
)

runner = CliRunner()
DATA_FOLDER = RECIPES_FOLDER / "data"

# ---------------------------------------------------------------------------------------------- by name


def test_the_shipped_recipes_are_listed_and_load():
    assert {"tinystories", "math_dialogues", "python_exercises"} <= set(available_recipes())
    for name in ("tinystories", "math_dialogues", "python_exercises"):
        spec = load_spec(f"recipe:{name}")
        assert spec.name == name
        assert load_recipe(name).column_order() == spec.column_order()


def test_each_recipe_repairs_its_model_answers_with_its_objective_check():
    stories, lessons, exercises = (load_recipe(name) for name in ("tinystories", "math_dialogues", "python_exercises"))
    assert (stories.column("story").repair.validator, stories.column("story").repair.attempts) == ("words_used", 2)
    teacher = lessons.column("lesson").roles[1]
    assert teacher.name == "teacher" and teacher.repair.validator == "answer_check"
    assert exercises.column("exercise_answer").repair.validator == "tests_pass"


def test_no_recipe_filters_on_a_judge():
    # On the default model every recipe's judge measured not informative (see each recipe's comment above its
    # filters), so the recipes keep their judges for the card's measurement but never drop records on them.
    for name in available_recipes():
        spec = load_recipe(name)
        assert [rule for rule in spec.filters if rule.kind == "score"] == [], name


def test_recipe_word_lists_and_data_resolve_inside_the_package():
    spec = load_spec("recipe:tinystories")
    assert spec.column("noun").file == str(VOCABULARY_FOLDER / "nouns.txt")
    assert spec.column("example").file == str(DATA_FOLDER / "tinystories_exemplars.jsonl.gz")
    lessons = load_spec("recipe:math_dialogues")
    assert lessons.column("problem").file == str(DATA_FOLDER / "gsm8k_train.jsonl.gz")
    assert lessons.column("not_in_gsm8k_test").options["references"] == [
        str(DATA_FOLDER / "gsm8k_test_questions.jsonl.gz")]


def test_an_unknown_recipe_lists_the_available_ones():
    with pytest.raises(RecipeError, match=r"unknown recipe 'tinystorys'; available recipes: .*recipe:tinystories"):
        load_spec("recipe:tinystorys")
    assert issubclass(RecipeError, SpecError)


@pytest.mark.parametrize("name", ["recipe:", "recipe:../pipeline/spec", "recipe:vocabulary/nouns", "recipe:.hidden"])
def test_a_recipe_name_never_leaves_the_recipes_folder(name):
    with pytest.raises(RecipeError):
        recipe_path(name)


def test_a_spec_source_registered_in_code_is_loaded_by_its_prefix():
    from perpetuum.pipeline.spec_sources import SPEC_SOURCES, is_named_source, register_spec_source

    @register_spec_source("team")
    def team_spec(name: str):
        return recipe_path({"stories": "tinystories"}[name])

    try:
        assert is_named_source("team:stories") and is_named_source("recipe:tinystories")
        assert not is_named_source("examples/specs/tiny_stories.yaml") and not is_named_source("name: x\nseed: 1")
        assert load_spec("team:stories").name == load_recipe("tinystories").name
    finally:
        SPEC_SOURCES._classes.pop("team")


def test_describe_recipes_gives_name_description_and_path():
    described = {item["name"]: item for item in describe_recipes()}
    assert "Teacher-student" in described["recipe:math_dialogues"]["description"]
    assert described["recipe:tinystories"]["path"].endswith("tinystories.yaml")


def test_cli_lists_recipes_and_rejects_an_unknown_one_cleanly():
    result = runner.invoke(app, ["recipes"])
    assert result.exit_code == 0, result.output
    assert "recipe:tinystories" in result.output and "recipe:math_dialogues" in result.output
    result = runner.invoke(app, ["preview", "recipe:nope"])
    assert result.exit_code == 2
    assert "unknown recipe 'nope'" in result.output and "recipe:tinystories" in result.output
    assert "Traceback" not in result.output


def test_cli_spec_paths_still_work_and_a_missing_one_is_named(tmp_path):
    result = runner.invoke(app, ["preview", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


# ---------------------------------------------------------------------------------------------- vocabulary


def test_the_vocabulary_has_1500_tagged_words_and_prompt_lists_inside_it():
    vocabulary = load_vocabulary()
    assert len(vocabulary.tags) == 1500
    allowed = {"noun", "verb", "adjective", "adverb", "function"}
    assert all(set(tags) <= allowed and tags for tags in vocabulary.tags.values())
    for file_name, tag in (("nouns.txt", "noun"), ("verbs.txt", "verb"), ("adjectives.txt", "adjective")):
        words = (VOCABULARY_FOLDER / file_name).read_text().split()
        assert len(words) >= 200
        assert all(vocabulary.tags[word][0] == tag for word in words)
    assert {"dog", "tree", "ball"} <= set((VOCABULARY_FOLDER / "nouns.txt").read_text().split())
    assert {"run", "play", "jump"} <= set((VOCABULARY_FOLDER / "verbs.txt").read_text().split())
    assert {"happy", "big", "red"} <= set((VOCABULARY_FOLDER / "adjectives.txt").read_text().split())


def test_names_are_not_vocabulary_words_and_the_source_is_documented():
    vocabulary = load_vocabulary()
    assert {"lily", "tim", "max"} <= vocabulary.names
    assert not vocabulary.names & set(vocabulary.tags)
    source = (VOCABULARY_FOLDER / "SOURCE.md").read_text()
    assert "CDLA-Sharing-1.0" in source and "LemmInflect" in source and "heuristic" in source


def test_word_forms_include_irregular_and_regular_inflections():
    assert {"ran", "running", "runs"} <= word_forms("run")
    assert {"happier", "happiest"} <= word_forms("happy")
    assert {"children"} <= word_forms("child")
    assert {"glowed", "glowing"} <= word_forms("glow")  # a word outside the table gets regular endings


# ---------------------------------------------------------------------------------------------- story checks

SIMPLE_STORY = (
    "Once upon a time, a little girl named Lily had a red ball. She liked to play with it in the park. One day, "
    "the ball rolled away and she ran after it. \"Come back, ball!\" she said. Her dog Max jumped and caught the "
    "ball. Lily was very happy and gave Max a big hug. They played until the sun went down."
)


def test_a_simple_story_keeps_to_the_vocabulary_with_names_and_inflections():
    result = vocabulary_compliance(SIMPLE_STORY)
    assert result["share"] == 1.0, result["outside"]
    assert check_vocabulary(SIMPLE_STORY)["passed"] is True


def test_hard_words_lower_the_compliance_and_are_named():
    hard = ("The epistemological ramifications of quantum decoherence notwithstanding, the committee "
            "deliberated interminably about fiscal appropriations.")
    result = vocabulary_compliance(hard)
    assert result["share"] < 0.6
    assert "epistemological" in result["outside"]
    verdict = check_vocabulary(hard)
    assert verdict["passed"] is False and "outside:" in verdict["message"]


def test_an_unknown_capitalised_word_inside_a_sentence_is_a_name():
    assert vocabulary_compliance("The dog saw Zorblax in the park.")["share"] == 1.0
    assert vocabulary_compliance("Zorblax saw the dog.")["share"] < 1.0  # sentence-initial: could be any word


def test_compliance_of_no_words_is_nan_and_fails():
    assert math.isnan(vocabulary_compliance("...")["share"])
    assert check_vocabulary("...")["passed"] is False


def test_required_words_are_found_in_any_inflection():
    record = {"noun": "ball", "verb": "run", "adjective": "happy"}
    verdict = check_required_words(SIMPLE_STORY, record)
    assert verdict == {"passed": True, "message": "all three words used", "missing": []}


def test_missing_required_words_are_named():
    record = {"noun": "ball", "verb": "swim", "adjective": "purple"}
    verdict = check_required_words(SIMPLE_STORY, record)
    assert verdict["passed"] is False
    assert verdict["missing"] == ["verb 'swim'", "adjective 'purple'"]


def test_a_possessive_counts_as_the_noun():
    assert check_required_words("The ball's color was red. " * 3, {"noun": "ball"})["passed"] is True


def test_length_bounds():
    assert check_length("word " * 49)["passed"] is False
    assert check_length("word " * 50)["passed"] is True
    assert check_length("word " * 500)["passed"] is True
    assert check_length("word " * 501) == {"passed": False, "message": "501 words (bounds 50-500)", "words": 501}
