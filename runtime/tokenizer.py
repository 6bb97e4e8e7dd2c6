"""Text <-> token ids, exact in both directions, on top of a Hugging Face tokenizer.

The runtime never re-tokenizes generated text, and the compiler encodes a prompt piece by piece,
so encoding must compose: `encode(a) + encode_continuation(b)` decodes to `a + b`. SentencePiece
tokenizers (Llama 2, Mistral) get in the way with their "dummy prefix", a space silently added
before the first word; this class controls that space itself instead of leaving it to the
tokenizer's pre-tokenizer, which also drops a genuine leading space of the text.
"""

from __future__ import annotations

import functools
import json
from array import array
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer as FastTokenizer
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from lmc.plan.instantiate import RoleTexts
from lmc.runtime.chat_template import role_texts_of

_METASPACE = "\u2581"  # '▁', SentencePiece's visible space
MEMO_RUNS = 4096  # texts whose ids are remembered (compactly): more than a run's rows have


def _bytes_to_unicode() -> dict[str, int]:
    """GPT-2's byte-level alphabet (used by Llama 3 and Qwen2): printable stand-in char -> byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = list(printable)
    shift = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + shift)
            shift += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def _state(component: object) -> dict | None:
    """A tokenizer component (normalizer, pre-tokenizer, decoder) as its tokenizer.json entry."""
    return None if component is None else json.loads(component.__getstate__())


def _without_dummy_prefix(spec: dict) -> tuple[dict, bool]:
    """Turn off every way a tokenizer.json's normalizer and pre-tokenizer prepend '▁'; report
    whether they did at all."""
    found = False

    def visit(node: object) -> object:
        nonlocal found
        if isinstance(node, dict):
            if node.get("type") == "Metaspace" and node.get("prepend_scheme", "always") != "never":
                found = True
                node = {**node, "prepend_scheme": "never", "add_prefix_space": False}
            if node.get("type") == "Prepend" and node.get("prepend") == _METASPACE:
                found = True
                return None
            node = {key: visit(value) for key, value in node.items()}
            for key in ("normalizers", "pretokenizers"):
                if isinstance(node.get(key), list):
                    node[key] = [n for n in node[key] if n is not None]
            return node
        if isinstance(node, list):
            return [visit(item) for item in node]
        return node

    spec = {**spec, "normalizer": visit(spec.get("normalizer")), "pre_tokenizer": visit(spec.get("pre_tokenizer"))}
    return spec, found


class Tokenizer:
    """A model's tokenizer with exact, composable encoding and per-token surface bytes."""

    def __init__(self, hf: PreTrainedTokenizerBase) -> None:
        if not getattr(hf, "is_fast", False):
            raise ValueError(f"{type(hf).__name__} has no tokenizers backend; lmc needs a tokenizer.json")
        self.hf = hf
        backend = hf.backend_tokenizer
        parts = {"normalizer": _state(backend.normalizer), "pre_tokenizer": _state(backend.pre_tokenizer)}
        plain_parts, self.has_dummy_prefix = _without_dummy_prefix(parts)
        self._byte_level = any("ByteLevel" in json.dumps(_state(c)) for c in (backend.pre_tokenizer, backend.decoder))
        # A copy of the whole tokenizer.json only where a part changes; otherwise the one
        # encoder is shared (copying a 49k-token vocabulary cost 0.3-0.6 s of every start).
        if self.has_dummy_prefix:
            self._plain = FastTokenizer.from_str(json.dumps({**json.loads(backend.to_str()), **plain_parts}))
        else:
            self._plain = backend
        self._special_ids = set(hf.all_special_ids)
        added = hf.backend_tokenizer.get_added_tokens_decoder().values()
        self._special_texts = tuple(sorted({t for t in hf.all_special_tokens if t} | {a.content for a in added if a.special}))
        self._memo: OrderedDict[str, array] = OrderedDict()

    @classmethod
    def from_dir(cls, path: str | Path) -> Tokenizer:
        """Load once per directory and process (loading parses megabytes of JSON, about a second);
        a rewritten tokenizer file is noticed by its modification time."""
        path = Path(path).resolve()
        if not path.is_dir():
            raise FileNotFoundError(f"tokenizer directory {path} does not exist")
        stamp = tuple(f.stat().st_mtime_ns for f in sorted(path.glob("tokenizer*")))
        return _load_cached(str(path), stamp)

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    @cached_property
    def bos_token_id(self) -> int | None:
        """Read once: transformers looks it up by name on every access, and every prompt asks."""
        return self.hf.bos_token_id

    @property
    def eos_token_id(self) -> int | None:
        return self.hf.eos_token_id

    def _encode_plain(self, text: str) -> list[int]:
        """Encoding is pure, so a text seen lately is not encoded again: a run of `lmc run`
        tokenizes each row's prompt for the row order, the cache model and the executor, and
        a shared prefix (a pinned few-shot head) recurs in every row."""
        if not text:
            return []
        known = self._memo.get(text)
        if known is not None:
            self._memo.move_to_end(text)
            return known.tolist()
        if self._plain.truncation is not None or self._plain.padding is not None:
            self._plain.no_truncation()  # transformers sets both per call on the encoder it shares
            self._plain.no_padding()
        ids = self._plain.encode(text, add_special_tokens=False).ids
        self._memo[text] = array("i", ids)
        if len(self._memo) > MEMO_RUNS:
            self._memo.popitem(last=False)
        return ids

    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        """Token ids of `text` as the start of a prompt (with the dummy prefix where the tokenizer
        uses one, except before a leading special token, as transformers does)."""
        starts_special = text.startswith(self._special_texts)
        prefix = " " if self.has_dummy_prefix and text and not starts_special else ""
        ids = self._encode_plain(prefix + text)
        if add_bos:
            if self.bos_token_id is None:
                raise ValueError("this tokenizer has no BOS token; call encode(text, add_bos=False)")
            ids = [self.bos_token_id, *ids]
        return ids

    def encode_continuation(self, text: str) -> list[int]:
        """Token ids of `text` that follows earlier text of the same prompt: no BOS, no dummy prefix."""
        return self._encode_plain(text)

    @cached_property
    def adds_bos(self) -> bool:
        """Whether the tokenizer itself puts BOS before a text (`add_bos_token`, or a post-processor
        that does): Llama and Mistral do; SmolLM2 and Qwen2 do not, though they name a BOS token."""
        bos = self.bos_token_id
        return bos is not None and self.hf("a").input_ids[:1] == [bos] != self.hf("a", add_special_tokens=False).input_ids[:1]

    def encode_run(self, text: str, at_start: bool) -> list[int]:
        """A run of prompt text as the executor sends it: at the start of a prompt, BOS where the
        tokenizer adds one and the start-of-text rules; a continuation after it. A prompt that
        starts with a special token is chat template text, which carries its own BOS text where
        the model wants one (what `apply_chat_template` sends), so it gets none added. This is the
        `Tokenize` the caller hands the cache model, so predictions count the tokens a run sends."""
        if at_start:
            starts_special = text.startswith(self._special_texts)
            return self.encode(text, add_bos=self.adds_bos and not starts_special)
        return self.encode_continuation(text)

    @cached_property
    def _token_bytes(self) -> list[bytes]:
        vocab = self.hf.backend_tokenizer.get_vocab(with_added_tokens=True)
        table = [b""] * max(len(self.hf), max(vocab.values()) + 1)
        # GPT-2's stand-in characters map to bytes 0-255, i.e. to latin-1 characters: one
        # str.translate per piece, instead of a Python loop over its characters.
        latin1 = {ord(c): b for c, b in _bytes_to_unicode().items()} if self._byte_level else {}
        added = self.hf.backend_tokenizer.get_added_tokens_decoder()
        for piece, idx in vocab.items():
            if idx in self._special_ids or (idx in added and added[idx].special):
                continue
            if idx in added:
                table[idx] = piece.encode("utf-8")
            elif self._byte_level:
                table[idx] = piece.translate(latin1).encode("latin-1")
            elif len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
                table[idx] = bytes([int(piece[3:5], 16)])
            else:
                table[idx] = piece.replace(_METASPACE, " ").encode("utf-8")
        return table

    def token_bytes(self) -> list[bytes]:
        """The bytes each token id adds to decoded text ('▁' is a space, '<0xNN>' its byte,
        special tokens nothing): what constrained decoding matches against."""
        return list(self._token_bytes)

    def decode_bytes(self, ids: list[int]) -> bytes:
        """The raw bytes `ids` add after earlier tokens; a cut may fall inside a character.

        Ids beyond the tokenizer's vocabulary add nothing (the engine never samples them, but a
        caller may hand in any id the model's vocabulary has)."""
        table = self._token_bytes
        if ids and max(ids) >= len(table):
            return b"".join(table[i] if i < len(table) else b"" for i in ids)
        return b"".join([table[i] for i in ids])  # the usual case, without a test per id

    def decode_continuation(self, ids: list[int]) -> str:
        """The text that `ids` add after earlier tokens (keeps a leading space; drops specials)."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def decode(self, ids: list[int]) -> str:
        """Text of ids produced by `encode`: special tokens dropped, and the dummy-prefix space
        removed when the first token after an optional BOS is an ordinary one."""
        text = self.decode_continuation(ids)
        body = ids[1:] if ids and ids[0] == self.bos_token_id else ids
        if self.has_dummy_prefix and body and body[0] not in self._special_ids and text.startswith(" "):
            text = text[1:]
        return text

    @cached_property
    def roles(self) -> RoleTexts:
        """Text around each role's content, from this tokenizer's chat template."""
        return role_texts_of(self.hf)

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.hf, "chat_template", None))


def role_texts(tokenizer: Tokenizer) -> tuple[RoleTexts | None, str | None]:
    """The model's text before/after each role's content, or None and the reason it has none."""
    try:
        return tokenizer.roles, None
    except ValueError as exc:
        return None, str(exc)


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, stamp: tuple[int, ...]) -> Tokenizer:
    """Tokenizers are immutable, so one instance per directory version can be shared.

    The generic fast class reads the same tokenizer.json, special tokens and chat template as the
    model's own class would (lmc encodes with its own copy of the backend, see Tokenizer), and
    importing it skips transformers' auto classes, which pull in its generation and distributed
    modules (scikit-learn, sympy): seconds of every run's start-up."""
    return Tokenizer(PreTrainedTokenizerFast.from_pretrained(path))


def load_tokenizer(model: str = "tiny") -> Tokenizer:
    """The tokenizer of a model name or directory without loading any weights.

    "tiny" builds the default model on first use; a preset (dummy weights) borrows the tokenizer
    its entry names; anything else is a Hugging Face directory.
    """
    from lmc.runtime.models.presets import is_preset, preset_tokenizer
    from lmc.runtime.models.tiny import tiny_model_dir

    if is_preset(model):
        model = preset_tokenizer(model)
    if model == "tiny":
        return Tokenizer.from_dir(tiny_model_dir())
    from lmc.runtime.gguf.checkpoint import GGUFCheckpoint, find_gguf
    from lmc.runtime.models.hub import is_pullable, model_path

    path = model_path(model) if is_pullable(model) else Path(model).expanduser()
    gguf_file = None if (path / "config.json").is_file() else find_gguf(path)
    if gguf_file is not None:
        return Tokenizer.from_dir(GGUFCheckpoint.open(gguf_file).tokenizer_dir)
    return Tokenizer.from_dir(model)
