"""Tokenizer exactness against sentencepiece and transformers; role templates against Jinja."""

from __future__ import annotations

import concurrent.futures
import importlib.resources
from pathlib import Path

import pytest
import sentencepiece
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer as FastTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from lmc.plan.instantiate import RoleTexts
from lmc.runtime.chat_template import ChatTemplateError, role_texts_of
from lmc.runtime.models import tiny
from lmc.runtime.tokenizer import Tokenizer, load_tokenizer

SPECIAL_TEXTS = ("<s>", "</s>", "<unk>")
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

plain_text = st.text(max_size=16).filter(lambda s: not any(t in s for t in SPECIAL_TEXTS))
ascii_text = st.text(st.characters(min_codepoint=9, max_codepoint=126), max_size=16)
pieces = st.lists(st.one_of(plain_text, ascii_text), min_size=1, max_size=5).filter(
    lambda ps: not any(t in "".join(ps) for t in SPECIAL_TEXTS)
)
word = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=8)
sentence = st.lists(word, min_size=1, max_size=6).map(" ".join)


@pytest.fixture(scope="module")
def tok(small_model_dir: Path) -> Tokenizer:
    return Tokenizer.from_dir(small_model_dir)


@pytest.fixture(scope="module")
def sp(small_model_dir: Path) -> sentencepiece.SentencePieceProcessor:
    return sentencepiece.SentencePieceProcessor(model_file=str(small_model_dir / "tokenizer.model"))


@FAST
@given(parts=pieces, bos=st.booleans())
def test_encode_then_continuations_decode_to_the_concatenation(tok: Tokenizer, parts: list[str], bos: bool) -> None:
    ids = tok.encode(parts[0], add_bos=bos)
    for part in parts[1:]:
        ids += tok.encode_continuation(part)
    assert tok.decode(ids) == "".join(parts)
    assert tok.decode_continuation(tok.encode_continuation(parts[-1])) == parts[-1]


@FAST
@given(text=sentence)
def test_encoding_agrees_with_sentencepiece_and_transformers(
    tok: Tokenizer, sp: sentencepiece.SentencePieceProcessor, text: str
) -> None:
    assert tok.encode(text) == sp.encode(text)
    assert tok.encode(text, add_bos=True) == tok.hf.encode(text)  # the HF tokenizer adds BOS itself


def test_dummy_prefix_space_is_kept_apart(tok: Tokenizer) -> None:
    assert tok.has_dummy_prefix
    hello = tok.encode("Hello")
    assert tok.hf.convert_ids_to_tokens(hello) == ["▁Hello"]
    assert tok.hf.convert_ids_to_tokens(tok.encode_continuation("Hello")) == ["Hello"]
    assert tok.decode(tok.encode(" Hello")) == " Hello"  # transformers would drop this space
    assert tok.decode([tok.bos_token_id, *hello]) == "Hello"
    assert tok.decode_continuation(hello) == " Hello"
    assert tok.encode("") == [] and tok.encode_continuation("") == []
    assert tok.encode("<s>[INST]") == tok.hf.encode("<s>[INST]", add_special_tokens=False)


def test_token_bytes_agree_with_sentencepiece_pieces(tok: Tokenizer, sp: sentencepiece.SentencePieceProcessor) -> None:
    table = tok.token_bytes()
    assert len(table) == sp.get_piece_size() == tok.vocab_size == 32000
    for i in range(sp.get_piece_size()):
        piece = sp.id_to_piece(i)
        if sp.is_control(i) or sp.is_unknown(i):
            expected = b""
        elif sp.is_byte(i):
            expected = bytes([int(piece[3:5], 16)])
        else:
            expected = piece.replace("▁", " ").encode()
        assert table[i] == expected, (i, piece)


@pytest.fixture(scope="module")
def byte_level() -> Tokenizer:
    """A small GPT-2-style byte-level BPE (the Llama 3 / Qwen2 family), trained on the spot."""
    fast = FastTokenizer(models.BPE())
    fast.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    fast.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|bos|>", "<|eos|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    fast.train_from_iterator(["the quick brown fox jumps over the lazy dog, naïve café 日本語"] * 20, trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=fast, bos_token="<|bos|>", eos_token="<|eos|>")
    return Tokenizer(hf)


@FAST
@given(parts=pieces)
def test_byte_level_tokenizer_round_trips(byte_level: Tokenizer, parts: list[str]) -> None:
    assert not byte_level.has_dummy_prefix
    ids = byte_level.encode(parts[0], add_bos=True)
    for part in parts[1:]:
        ids += byte_level.encode_continuation(part)
    assert byte_level.decode(ids) == "".join(parts)
    table = byte_level.token_bytes()
    assert b"".join(table[i] for i in byte_level.encode(parts[-1])) == parts[-1].encode()


# ---- role templates ---------------------------------------------------------------------------

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA3 = (
    "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n'"
    " + m['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
SYSTEM_IN_FIRST_TURN = (  # Llama 2's official layout: the system prompt lives inside the first [INST]
    "{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}"
    "{% set messages = messages[1:] %}{% else %}{% set system = '' %}{% endif %}"
    "{% for m in messages %}{% if m['role'] == 'user' %}"
    "{{ '[INST] ' + ('<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' if loop.first and system else '')"
    " + m['content'] + ' [/INST]' }}{% else %}{{ ' ' + m['content'] + '</s>' }}{% endif %}{% endfor %}"
)
NO_SYSTEM = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system role') }}"
    "{% endif %}{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endfor %}"
)
GENERATION_PROMPT = "{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"


@pytest.fixture(scope="module")
def hf_tok(small_model_dir: Path):
    """A private transformers tokenizer whose chat_template the tests may swap."""
    return AutoTokenizer.from_pretrained(small_model_dir)


@pytest.fixture
def with_template(hf_tok):
    original = hf_tok.chat_template

    def use(template: str | None):
        hf_tok.chat_template = template
        return hf_tok

    yield use
    hf_tok.chat_template = original


def test_tiny_template_pieces(tok: Tokenizer) -> None:
    assert tok.roles == RoleTexts(
        before={"system": "", "user": "[INST] ", "assistant": ""},
        after={"system": "\n<</SYS>>\n\n", "user": " [/INST]", "assistant": "</s>"},
        opening={"system": "<s><<SYS>>\n", "user": "<s>[INST] "},
    )


TEMPLATES = {
    "tiny": importlib.resources.files("lmc.runtime").joinpath("chat_templates/tiny.jinja").read_text(),
    "chatml": CHATML,
    "llama3": LLAMA3,
}
conversation = st.tuples(
    st.booleans(),
    st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10)), min_size=1, max_size=3),
)


def written(roles: RoleTexts, messages: list[dict[str, str]]) -> str:
    """The conversation as the executor writes it, then the opening of a generated assistant turn."""
    parts, previous = [], None
    for m in messages:
        parts += [roles.open(m["role"], previous), m["content"], roles.close(m["role"])]
        previous = m["role"]
    return "".join([*parts, roles.open("assistant", previous)])


@FAST
@pytest.mark.parametrize("name", sorted(TEMPLATES))
@given(conv=conversation)
def test_pieces_rebuild_what_the_template_renders(with_template, name: str, conv) -> None:
    hf = with_template(TEMPLATES[name])
    roles = role_texts_of(hf)
    has_system, turns = conv
    messages = [{"role": "system", "content": "Be brief."}] if has_system else []
    for user, assistant in turns:
        messages.append({"role": "user", "content": user.strip() or "q"})
        messages.append({"role": "assistant", "content": assistant.strip() or "a"})
    messages = messages[:-1]
    assert written(roles, messages) == hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def test_unsplittable_and_missing_templates_are_refused(with_template) -> None:
    with pytest.raises(ChatTemplateError, match="generation prompt differs"):
        role_texts_of(with_template(SYSTEM_IN_FIRST_TURN))
    with pytest.raises(ValueError, match="has no chat template"):
        role_texts_of(with_template(None))
    with pytest.raises(ChatTemplateError, match="generation prompt differs"):
        role_texts_of(with_template(NO_SYSTEM))
    roles = role_texts_of(with_template(NO_SYSTEM + GENERATION_PROMPT))
    assert roles.open("user", None) == "user: "
    with pytest.raises(ValueError, match="no system role"):
        roles.open("system", None)


# ---- load_tokenizer and the tiny model directory ---------------------------------------------


def test_presets_use_the_tiny_tokenizer() -> None:
    assert load_tokenizer("llama-3-8b") is load_tokenizer("tiny")
    assert load_tokenizer("tiny").vocab_size == 32000


def test_tiny_dir_is_built_once_atomically_and_rebuilt_for_a_new_recipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMC_HOME", str(tmp_path))
    for key, value in {"hidden_size": 32, "num_hidden_layers": 1, "intermediate_size": 64}.items():
        monkeypatch.setitem(tiny.TINY_CONFIG, key, value)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(lambda _: tiny.tiny_model_dir(), range(2)))
    assert paths[0] == paths[1] == tmp_path / "models" / "tiny"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["tiny"]  # no staging left
    weights = paths[0] / "model.safetensors"
    built_at = weights.stat().st_mtime_ns
    assert tiny.tiny_model_dir() == paths[0] and weights.stat().st_mtime_ns == built_at

    monkeypatch.setattr(tiny, "TINY_RECIPE_VERSION", tiny.TINY_RECIPE_VERSION + 1)
    assert tiny.tiny_model_dir() == paths[0]
    assert weights.stat().st_mtime_ns != built_at
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["tiny"]


def test_remembered_encodings_equal_fresh_ones_and_are_the_callers_own(tok: Tokenizer) -> None:
    from lmc.runtime import tokenizer as module

    text = "Question: which planet is largest?\nAnswer:"
    fresh = tok.hf(" " + text, add_special_tokens=False)["input_ids"]
    first = tok.encode(text)
    first.append(-1)  # a caller's list: changing it must not change the remembered ids
    assert tok.encode(text) == fresh == first[:-1]
    for i in range(module.MEMO_RUNS + 1):  # the memo stays bounded
        tok.encode_continuation(f" {i}")
    assert len(tok._memo) == module.MEMO_RUNS
    assert tok.encode(text) == fresh


def test_a_truncating_transformers_call_does_not_truncate_later_encodes(byte_level: Tokenizer) -> None:
    """A byte-level tokenizer shares its encoder with transformers' object (no dummy prefix to
    remove, so no copy): settings that a transformers call leaves on it must not leak into ours."""
    text = "the quick brown fox jumps over the lazy dog " * 8
    full = byte_level.encode_continuation(text)
    assert len(byte_level.hf(text, truncation=True, max_length=3).input_ids) == 3
    assert byte_level.encode_continuation(text + "!")[: len(full)] == full
