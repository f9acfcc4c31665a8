"""The hf backend on a tiny random GPT-2 built here and saved with save_pretrained (no download)."""

import asyncio

import pytest

torch = pytest.importorskip("torch", reason="the hf backend needs torch: pip install 'perpetuum[hf]'")
transformers = pytest.importorskip("transformers", reason="the hf backend needs transformers: pip install 'perpetuum[hf]'")

from perpetuum.errors import GenerationError, ModelFileError  # noqa: E402
from perpetuum.llm import GenerationParams, generate_json, get_backend  # noqa: E402

CORPUS = ["the cat sat on the mat", "a dog ran in the park", "user: hello", "assistant: hi there"] * 20
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_model_folder(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    eos = fast.convert_tokens_to_ids("<|endoftext|>")
    config = transformers.GPT2Config(
        vocab_size=len(fast), n_positions=256, n_embd=32, n_layer=2, n_head=2, bos_token_id=eos, eos_token_id=eos
    )
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def backend(tiny_model_folder):
    return get_backend("hf", model_path=tiny_model_folder).load()


def test_chat_uses_the_folder_and_reports_tokens(backend):
    answer = asyncio.run(backend.chat([{"role": "user", "content": "hello"}], GenerationParams(max_tokens=8, seed=0)))
    assert answer.prompt_tokens > 2 and 0 <= answer.completion_tokens <= 8
    assert answer.finish_reason in {"stop", "length"} and answer.model.startswith("tiny-gpt2")


def test_the_same_seed_gives_the_same_text(backend):
    params = GenerationParams(temperature=1.0, max_tokens=12, seed=3)
    messages = [{"role": "user", "content": "the cat"}]
    assert asyncio.run(backend.chat(messages, params)).text == asyncio.run(backend.chat(messages, params)).text


def test_chat_many_decodes_a_padded_batch_in_order(backend):
    conversations = [[{"role": "user", "content": text}] for text in ["a", "the dog ran in the park", "hi"]]
    params = GenerationParams(temperature=0, max_tokens=6)
    together = asyncio.run(backend.chat_many(conversations, params))
    assert [c.prompt_tokens for c in together] == [
        asyncio.run(backend.chat(conversation, params)).prompt_tokens for conversation in conversations
    ]


def test_complete_continues_a_raw_prompt(backend):
    answer = asyncio.run(backend.complete("the cat", GenerationParams(temperature=0, max_tokens=5)))
    assert answer.completion_tokens <= 5


def test_without_a_grammar_json_goes_through_validate_and_retry(backend):
    schema = {"type": "object", "required": ["name"]}
    with pytest.raises(GenerationError, match="2 attempts") as caught:
        asyncio.run(generate_json(backend, [{"role": "user", "content": "hi"}], schema,
                                  GenerationParams(max_tokens=6, seed=1), max_attempts=2))
    assert len(caught.value.completions) == 2


def test_a_folder_without_a_model_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="config.json"):
        get_backend("hf", model_path=tmp_path).load()
