"""The fixed part of every prompt, read once and kept on disk.

Every prompt starts with the same instructions and worked examples (``prompt.prefix_messages``).
llama.cpp keeps them in its KV cache between questions, but a new process would read them again:
about 330 tokens, 1.5-3 s on 2 cores. ``save`` writes llama.cpp's context state after the prefix
to ``<models>/states/``; ``load`` puts it back in milliseconds.

A state is used only where it was made for exactly this situation. Its identity is the model
file (path, size, modification time, and the verified sha256 where one is known), the llama.cpp
build (version and CPU features), the context settings that shape the KV cache, and the prefix
tokens themselves; a sidecar records that identity and the state file's own sha256. Anything that
does not match — another model, build or prompt, a truncated or altered file — is refused, and
the caller reads the prefix again and saves a new state.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

from .models import write_json

FORMAT = 1
MAGIC = b"RAGKV1\n"


def state_dir(models_dir: Path) -> Path:
    """Where the saved states of the models in ``models_dir`` are kept."""
    return Path(models_dir) / "states"


def saved(folder: Path) -> list[Path]:
    """The saved states in ``folder``."""
    return sorted(Path(folder).glob("prefix-*.kv"))


def identity(llm, model_path: Path, tokens: Sequence[int], settings: dict) -> dict:
    """What a saved state must have been made from to be used with ``llm`` and ``tokens``."""
    import llama_cpp

    st = Path(model_path).stat()
    stamp = Path(str(model_path) + ".verified.json")
    try:
        sha = json.loads(stamp.read_text()).get("sha256", "")
    except (OSError, ValueError, AttributeError):
        sha = ""
    return {
        "format": FORMAT,
        "model": str(Path(model_path).resolve()), "model_size": st.st_size, "model_mtime_ns": st.st_mtime_ns,
        "model_sha256": sha,
        "llama_cpp": getattr(llama_cpp, "__version__", "?"),
        "system": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
        "settings": settings,
        "n_tokens": len(tokens),
        "tokens_sha256": hashlib.sha256(json.dumps(list(map(int, tokens))).encode()).hexdigest(),
    }


def path_for(state_dir: Path, ident: dict) -> Path:
    key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:20]
    return Path(state_dir) / f"prefix-{key}.kv"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def save(llm, path: Path, ident: dict) -> bool:
    """Write ``llm``'s context state (which must hold exactly the prefix) to ``path``; atomically,
    best effort: a folder that cannot be written only costs reading the prefix next time."""
    import llama_cpp

    size = llama_cpp.llama_state_get_size(llm._ctx.ctx)
    buf = (ctypes.c_uint8 * int(size))()
    n = int(llama_cpp.llama_state_get_data(llm._ctx.ctx, buf, size))
    if n <= 0 or n > size:
        return False
    data = MAGIC + bytes(memoryview(buf)[:n])
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        return False
    # A state whose sidecar is missing or older fails ``check`` and is made again.
    return write_json(_sidecar(path), dict(ident, state_size=len(data),
                                           state_sha256=hashlib.sha256(data).hexdigest()))


def check(path: Path, ident: dict) -> bytes | None:
    """The saved state's data if ``path`` holds a state made for exactly ``ident``, else None
    (and a state that fails its own checksum is deleted)."""
    try:
        side = json.loads(_sidecar(path).read_text())
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(side, dict) or {k: side.get(k) for k in ident} != ident:
        return None
    if len(data) != side.get("state_size") or hashlib.sha256(data).hexdigest() != side.get("state_sha256") \
            or not data.startswith(MAGIC):
        forget(path)
        return None
    return data[len(MAGIC):]


def load(llm, path: Path, ident: dict, tokens: Sequence[int]) -> bool:
    """Put the saved prefix state into ``llm`` if it was made for exactly ``ident``; True if it was."""
    import llama_cpp

    data = check(path, ident)
    if data is None:
        return False
    buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    if int(llama_cpp.llama_state_set_data(llm._ctx.ctx, buf, len(data))) != len(data):
        forget(path)
        llm.reset()
        return False
    llm.input_ids[: len(tokens)] = tokens
    llm.n_tokens = len(tokens)
    return True


def forget(path: Path) -> None:
    for p in (path, _sidecar(path)):
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass
