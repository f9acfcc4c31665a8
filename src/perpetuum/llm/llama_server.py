"""`python -m perpetuum.llm.llama_server ARGS`: llama-cpp-python's OpenAI-compatible server (`python -m
llama_cpp.server`, same arguments), changed in one way: its prompt cache is reused only where that cannot change an
answer (see `prompt_cache.py`), so a seeded request gets the same answer whatever the server answered before; and
its model loads with the AMX guard of `llama_loading.py`, so it cannot crash on CPUs with AMX.
Without this, a retried request, or the first request of a resumed run that the killed run had already sent, came
back different.
"""

from __future__ import annotations


def main() -> None:
    from perpetuum.llm.llama_loading import guard_process_wide
    from perpetuum.llm.prompt_cache import make_reuse_exact_everywhere

    guard_process_wide()
    make_reuse_exact_everywhere()
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
