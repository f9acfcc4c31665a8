"""Model backends behind one small interface (`Backend`), found by name.

    from perpetuum.llm import GenerationParams, get_backend
    backend = get_backend("embedded")                      # SmolLM2-135M in-process, no download, no server
    backend = get_backend("openai", base_url="http://127.0.0.1:8000/v1", model="my-model")
    backend = get_backend("hf", model_path="path/to/folder")   # needs `pip install "perpetuum[hf]"`
    answer = await backend.chat([{"role": "user", "content": "Hi"}], GenerationParams(max_tokens=32))
    value, completions = await generate_json(backend, messages, schema, GenerationParams())

Concrete backends are imported only when asked for (the registry), so importing this package stays light.
"""

from perpetuum.llm.base import Backend, Completion, GenerationParams
from perpetuum.llm.registry import available_backends, get_backend, get_backend_class, register_backend
from perpetuum.llm.structured import generate_json

__all__ = [
    "Backend",
    "Completion",
    "GenerationParams",
    "available_backends",
    "generate_json",
    "get_backend",
    "get_backend_class",
    "register_backend",
]
