"""A copy of the model in a format this CPU's llama.cpp reads prompts faster from.

llama.cpp's speed at reading a prompt depends on the weights' quantisation type and on the CPU's
instruction set. On a CPU with AVX2 but no AVX-512, the shipped Q4_K_M file reads prompts more
slowly than a Q8_0 copy of the same weights (see BENCHMARKS.md); Q8_0 holds every Q4_K_M weight
almost exactly, so the copy loses nothing further. ``for_this_cpu`` makes that copy once, beside
the verified original, with llama.cpp's own quantiser, and uses it from then on.

A copy is used only if it is exactly the file that was made: its sidecar
(``<copy>.convert.json``) records the original's sha256, the target type, the llama.cpp version,
and the copy's own size and sha256. A copy whose sidecar is missing or does not match, or whose
bytes no longer hash to the recorded sha256, is deleted and made again — never used.
"""
from __future__ import annotations

import ctypes
import fcntl
import json
import os
from pathlib import Path
from typing import Callable

from .errors import ConfigError, ModelError
from .models import sha256_file, write_json

VARIANTS = ("auto", "original", "q8_0")
_FTYPES = {"q8_0": 7}         # llama.cpp's LLAMA_FTYPE_MOSTLY_Q8_0


def build_has_avx512() -> bool:
    """Whether the installed llama.cpp was built with AVX-512 (and so reads Q4_K_M prompts fast)."""
    import llama_cpp

    return build_name(llama_cpp.llama_print_system_info().decode("utf-8", "replace")) == "AVX-512"


def build_name(system_info: str) -> str:
    """The widest x86 vector set in llama.cpp's ``llama_print_system_info`` text."""
    return "AVX-512" if "AVX512 = 1" in system_info else "AVX2" if "AVX2 = 1" in system_info else "other"


def wanted(variant: str) -> str:
    """The format to run: ``variant`` itself, or for "auto" Q8_0 on builds without AVX-512."""
    variant = (variant or "auto").lower()
    if variant not in VARIANTS:
        raise ConfigError(f"unknown model variant {variant!r}: use one of {', '.join(VARIANTS)}")
    if variant == "auto":
        return "original" if build_has_avx512() else "q8_0"
    return variant


def copy_path(original: Path, ftype: str) -> Path:
    stem = original.name[:-5] if original.name.endswith(".gguf") else original.name
    return original.with_name(f"{stem}.{ftype}.gguf")


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".convert.json")


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "inode": st.st_ino}


def _llama_version() -> str:
    import llama_cpp

    return getattr(llama_cpp, "__version__", "?")


def usable(copy: Path, source_sha256: str, ftype: str) -> bool:
    """Whether ``copy`` is the intact file made from the original with sha256 ``source_sha256``."""
    try:
        side = json.loads(_sidecar(copy).read_text())
        if not copy.is_file() or not isinstance(side, dict):
            return False
    except (OSError, ValueError):
        return False
    if side.get("source_sha256") != source_sha256 or side.get("ftype") != ftype \
            or side.get("llama_cpp") != _llama_version() or side.get("size") != copy.stat().st_size:
        return False
    if side.get("stamp") == _stamp(copy):
        return True
    if sha256_file(copy) != side.get("sha256"):
        return False
    side["stamp"] = _stamp(copy)          # the same bytes with new file times: remember the check
    write_json(_sidecar(copy), side)
    return True


def _llama_quantize(src: Path, dst: Path, ftype: str) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = _FTYPES[ftype]
    params.allow_requantize = True
    params.nthread = max(1, os.cpu_count() or 1)
    if llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params)) != 0:
        raise ModelError(f"llama.cpp could not convert {src.name} to {ftype}")


def make(original: Path, source_sha256: str, ftype: str, *,
         quantize: Callable[[Path, Path, str], None] = _llama_quantize, log=None) -> Path:
    """The converted copy of the verified ``original``: the existing one if intact, else made now."""
    copy = copy_path(original, ftype)
    if usable(copy, source_sha256, ftype):
        return copy
    try:
        lock = open(copy.with_name(copy.name + ".lock"), "w")
    except OSError as exc:
        raise ModelError(f"cannot write a converted model beside {original}: {exc.strerror}") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if usable(copy, source_sha256, ftype):        # another process made it meanwhile
            return copy
        for stale in (copy, _sidecar(copy)):
            stale.unlink(missing_ok=True)
        if log:
            log(f"making a {ftype.upper()} copy of {original.name}, which this CPU reads prompts faster from "
                "(once, a few seconds)")
        partial = copy.with_name(copy.name + ".partial")
        try:
            quantize(original, partial, ftype)
            with open(partial, "rb+") as f:
                os.fsync(f.fileno())
            side = {"source": original.name, "source_sha256": source_sha256, "ftype": ftype,
                    "llama_cpp": _llama_version(), "size": partial.stat().st_size, "sha256": sha256_file(partial)}
            os.replace(partial, copy)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise ModelError(f"could not write the converted model {copy}: {exc.strerror or exc}") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        side["stamp"] = _stamp(copy)
        write_json(_sidecar(copy), side)
    return copy


def for_this_cpu(original: Path, source_sha256: str | None, variant: str = "auto", *, log=None) -> Path:
    """The model file to load: the verified original, or its faster copy for this CPU. Only a
    verified original (a known model, ``source_sha256`` given) is converted."""
    ftype = wanted(variant)
    if ftype == "original":
        return original
    if not source_sha256:
        if variant != "auto":
            raise ConfigError(f"model variant {variant} is made only from a known, verified model")
        return original
    try:
        return make(original, source_sha256, ftype, log=log)
    except ModelError:
        if variant != "auto":
            raise
        return original              # auto: a copy that cannot be made only costs speed
