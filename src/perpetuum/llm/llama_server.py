"""`python -m perpetuum.llm.llama_server ARGS`: llama-cpp-python's OpenAI-compatible server (`python -m
llama_cpp.server`, same arguments), changed in one way: its prompt cache is reused only where that cannot change an
answer (see `prompt_cache.py`), so a seeded request gets the same answer whatever the server answered before.
Without this, a retried request, or the first request of a resumed run that the killed run had already sent, came
back different.
"""

from __future__ import annotations


def main() -> None:
    from perpetuum.llm.prompt_cache import make_reuse_exact_everywhere

    make_reuse_exact_everywhere()
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
