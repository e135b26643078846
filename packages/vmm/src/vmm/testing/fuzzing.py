"""Seed corpora and dictionaries for the atheris fuzz targets of this VMM and its CLI.

libFuzzer starts from the inputs in its corpus folders and splices in the
words of its dictionary. The targets derive both from the code they fuzz
(option declarations, routes, JSON field names, valid configurations), so
they follow the code and are written at each start, not committed:

    argv = libfuzzer_argv(sys.argv, "fuzz_http", seeds=SEEDS, words=WORDS)
    atheris.Setup(argv, test_one)

Everything goes under `$TMPDIR/ch-fuzz/<name>/`: `seeds/` (rewritten at
each start), `words.dict`, `corpus/`, where libFuzzer keeps the inputs it
finds, so a later run starts where this one stopped, and the crash inputs
(`crash-*`). A corpus folder, `-dict=` or `-artifact_prefix=` given on the
command line is used instead.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vmm.config.schema import Key, Option

__all__ = ["dictionary_entry", "fuzz_folder", "key_example", "libfuzzer_argv", "option_examples"]

# Values tried, in order, for a key's example: the first its codec parses is used.
_CANDIDATES = (
    "on", "2", "64M", "vcpu", "host", "[0@[0-1]]", "[0@[1],1@[0]]", "[1@20]", "[0-1]", "[a,b]",
    "0xe9", "12:34:56:78:9a:bc", "192.168.249.1", "client", "raw", "full", "virtio-mem",
    "block", "/tmp/image", "x",
)  # fmt: skip


def fuzz_folder(name: str) -> Path:
    """Where the target `name` keeps its seeds, dictionary and corpus."""
    return Path(tempfile.gettempdir(), "ch-fuzz", name)


def dictionary_entry(word: bytes) -> str:
    """One line of a libFuzzer dictionary: the word quoted, other than printable ASCII escaped."""
    escaped = "".join(
        chr(byte) if 0x20 <= byte < 0x7F and byte not in b'"\\' else f"\\x{byte:02x}"
        for byte in word
    )
    return f'"{escaped}"'


def libfuzzer_argv(
    argv: Sequence[str],
    name: str,
    *,
    seeds: Iterable[bytes],
    words: Iterable[bytes] = (),
    max_len: int | None = None,
) -> list[str]:
    """`argv` (program name first) with the seed folder, the dictionary and, unless
    `argv` names one, a corpus folder to keep what libFuzzer finds in (the first folder
    given is the one it writes to); `max_len` is the default of `-max_len=`."""
    folder = fuzz_folder(name)
    seed_folder = folder / "seeds"
    shutil.rmtree(seed_folder, ignore_errors=True)
    seed_folder.mkdir(parents=True)
    for index, seed in enumerate(dict.fromkeys(seeds)):
        (seed_folder / f"seed-{index:04d}").write_bytes(seed)
    extra: list[str] = []
    if not any(arg.startswith("-artifact_prefix=") for arg in argv[1:]):
        extra.append(f"-artifact_prefix={folder}/")
    if max_len is not None and not any(arg.startswith("-max_len=") for arg in argv[1:]):
        extra.append(f"-max_len={max_len}")
    lines = [dictionary_entry(word) for word in dict.fromkeys(words) if word]
    if lines and not any(arg.startswith("-dict=") for arg in argv[1:]):
        dictionary = folder / "words.dict"
        dictionary.write_text("\n".join(lines) + "\n")
        extra.append(f"-dict={dictionary}")
    if all(arg.startswith("-") for arg in argv[1:]):
        corpus = folder / "corpus"
        corpus.mkdir(exist_ok=True)
        extra.append(str(corpus))
    return [*argv, *extra, str(seed_folder)]


def key_example(key: Key) -> str:
    """`key=value` with a value that the key's own codec parses (`key=` if none does)."""
    from vmm.config.codecs import FLAG

    if key.codec is FLAG:
        return key.name
    for candidate in _CANDIDATES:
        try:
            key.codec.parse(candidate)
        except ValueError:
            continue
        return f"{key.name}={candidate}"
    return f"{key.name}="


def option_examples() -> Iterator[tuple[Option, str]]:
    """Each VM option with `key=value` texts: all its keys at once, then each key alone
    (the options without keys, `--kernel` and the flags, with a plain value)."""
    from vmm.config.declarations import OPTIONS

    for option in OPTIONS:
        if not option.keys:
            yield option, "x"
            continue
        yield option, ",".join(key_example(key) for key in option.keys)
        for key in option.keys:
            yield option, key_example(key)
