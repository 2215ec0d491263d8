"""Reference side of models/tests/t5_parity.rs.

    t5_reference.py model OUT      small random T5EncoderModels saved with save_pretrained, plus
                                   their outputs as transformers computes them after from_pretrained
    t5_reference.py tokenizer OUT  a sentencepiece T5 tokenizer and a WordPiece BERT tokenizer built
                                   offline, saved as tokenizer.json, plus their encodings of prompts

Everything is generated here from fixed seeds; nothing is downloaded.
"""
import io
import json
import os
import random
import struct
import sys
from types import SimpleNamespace

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import deterministic, randomize_, save  # noqa: E402

# --------------------------------------------------------------------------------------------- model

# name, config, how the embedding is stored, max_shard_size, sequence length, dtypes to run
CASES = [
    # T5 (v1.0) style: relu; the checkpoint holds shared.weight and an identical
    # encoder.embed_tokens.weight, as the LTX-Video text_encoder shards do.
    ("relu_both_embed_keys",
     dict(vocab_size=300, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
          relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="relu"),
     "both_equal", None, 24, ["float32"]),
    # T5 v1.1 style (LTX-Video's encoder): gated gelu_new, d_model != heads*d_kv, few buckets and a
    # short max distance so the log buckets are used, sharded with an index.
    ("gated_gelu_sharded",
     dict(vocab_size=280, d_model=40, d_kv=8, d_ff=96, num_layers=3, num_heads=6,
          relative_attention_num_buckets=8, relative_attention_max_distance=20, layer_norm_epsilon=1e-5,
          feed_forward_proj="gated-gelu"),
     "shared", "60KB", 40, ["float32", "float16", "bfloat16"]),
    # gated silu, one layer; only encoder.embed_tokens.weight stored (transformers ties it back).
    ("gated_silu_embed_tokens_only",
     dict(vocab_size=200, d_model=48, d_kv=32, d_ff=64, num_layers=1, num_heads=2,
          relative_attention_num_buckets=16, relative_attention_max_distance=32, feed_forward_proj="gated-silu"),
     "embed_tokens_only", None, 17, ["float32"]),
    # exact gelu, not gated; both embedding keys with different values: transformers does not tie
    # them and the encoder reads encoder.embed_tokens.weight.
    ("gelu_untied_embeddings",
     dict(vocab_size=160, d_model=36, d_kv=12, d_ff=72, num_layers=2, num_heads=3,
          relative_attention_num_buckets=12, relative_attention_max_distance=24, feed_forward_proj="gelu"),
     "both_different", None, 30, ["float32"]),
]


def rewrite_embeddings(folder: str, how: str, seed: int) -> None:
    """Edit the saved checkpoint so it stores the token embedding the way `how` says."""
    files = [f for f in os.listdir(folder) if f.endswith(".safetensors")]
    (path,) = [os.path.join(folder, f) for f in files if "shared.weight" in load_file(os.path.join(folder, f))]
    tensors = load_file(path)
    shared = tensors["shared.weight"]
    if how == "both_equal":
        tensors["encoder.embed_tokens.weight"] = shared.clone()
    elif how == "both_different":
        g = torch.Generator().manual_seed(seed + 1000)
        tensors["encoder.embed_tokens.weight"] = torch.randn(shared.shape, generator=g) * 0.2
    elif how == "embed_tokens_only":
        tensors["encoder.embed_tokens.weight"] = tensors.pop("shared.weight")
    save_file(tensors, path, metadata={"format": "pt"})
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            idx = json.load(f)
        name = os.path.basename(path)
        idx["weight_map"] = {k: v for k, v in idx["weight_map"].items() if k in tensors or v != name}
        for k in tensors:
            idx["weight_map"][k] = name
        with open(index, "w") as f:
            json.dump(idx, f, indent=2)


def make_inputs(vocab: int, length: int, seed: int):
    """Three rows: full length, and two padded after their EOS (id 1) with pad id 0."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, vocab, (3, length), generator=g)
    mask = torch.ones(3, length, dtype=torch.long)
    for row, n in ((1, length * 2 // 3), (2, 3)):
        ids[row, n - 1] = 1
        ids[row, n:] = 0
        mask[row, n:] = 0
    return ids, mask


def model_main(out: str) -> None:
    from transformers import T5Config, T5EncoderModel
    from transformers.utils import logging

    logging.disable_progress_bar()

    manifest = []
    for i, (name, cfg, embed, shard, length, dtypes) in enumerate(CASES):
        deterministic(i)
        folder = os.path.join(out, name)
        model = T5EncoderModel(T5Config(**cfg, dropout_rate=0.0)).eval()
        randomize_(model, seed=100 + i)
        kwargs = {"max_shard_size": shard} if shard else {}
        model.save_pretrained(folder, **kwargs)
        if embed != "shared":
            rewrite_embeddings(folder, embed, 100 + i)
        files = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors"))
        if shard:
            assert len(files) > 1 and os.path.exists(os.path.join(folder, "model.safetensors.index.json")), files
        ids, mask = make_inputs(cfg["vocab_size"], length, 200 + i)
        tensors = {"input_ids": ids, "attention_mask": mask}
        for dtype in dtypes:
            # What a user of transformers gets: from_pretrained on the folder, then a forward.
            loaded = T5EncoderModel.from_pretrained(folder, dtype=getattr(torch, dtype)).eval()
            assert loaded.config._attn_implementation == "sdpa", loaded.config._attn_implementation
            wo = loaded.encoder.block[0].layer[1].DenseReluDense.wo.weight.dtype
            assert wo == (torch.float32 if dtype == "float16" else getattr(torch, dtype)), wo
            with torch.no_grad():
                tensors[f"{dtype}.masked"] = loaded(input_ids=ids, attention_mask=mask).last_hidden_state
                tensors[f"{dtype}.unmasked"] = loaded(input_ids=ids).last_hidden_state
            tensors[f"{dtype}.output_is_{str(tensors[f'{dtype}.masked'].dtype).split('.')[-1]}"] = torch.zeros(1)
        save(os.path.join(folder, "reference.safetensors"), tensors)
        manifest.append({"name": name, "dtypes": dtypes, "files": files, "embedding": embed, **cfg})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


# ----------------------------------------------------------------------------------------- tokenizer

MAX_LENGTH = 48

PROMPTS = [
    "A red ball bounces on the grass.",
    "a blue square slides left, then spins!",
    "naïve café — 東京の夜, 猫が歩く 🙂",
    "  leading and   multiple   spaces\tand tabs\nnewline  ",
    "",
    " ",
    "UPPER lower MiXeD 12345 3.14 $%&*()[]{}<>/\\|~`^",
    "<extra_id_0> a sentinel and </s> an eos typed in the text <pad>",
    "ｆｕｌｌｗｉｄｔｈ ① ﬁve ligatures and ½ fractions",
    "Ça va? Ñandú, smørrebrød, Ωmega, straße",
    "don't stop-motion: the camera's pan (slow) ... fades",
]

# Words for the training corpus and the long prompts.
WORDS = ("a the red blue green yellow orange purple white black cat dog bird ball square circle triangle star "
         "runs jumps spins slides bounces falls rises grows shrinks moves over under behind beside slowly quickly "
         "camera pans tilts zooms left right up down sunset ocean waves city night lights rain snow forest river "
         "mountain close-up wide shot of woman man child walking street café naïve über smørrebrød straße Ωmega "
         "東京 夜 猫 歩く 🙂 and then with on in at").split()


def corpus(seed: int = 0):
    rng = random.Random(seed)
    syllables = "ka ri to mu ne sa lo vi de ph str ing tion al er ou an qu x z".split()
    words = WORDS + ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(400)]
    lines = []
    for _ in range(4000):
        ws = [rng.choice(words) for _ in range(rng.randint(3, 16))]
        if rng.random() < 0.3:
            ws[0] = ws[0].capitalize()
        if rng.random() < 0.2:
            ws.insert(rng.randrange(len(ws)), str(rng.randint(0, 2000)))
        lines.append(" ".join(ws) + rng.choice([".", ",", "!", "?", ":", " (x)", "'s", ""]))
    return lines


def _varint(b: bytes, i: int):
    shift = result = 0
    while True:
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return result, i


def _fields(b: bytes):
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(b, i)
        elif wire == 1:
            v, i = b[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wire == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield field, v


def _int32(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


def parse_spm_model(data: bytes):
    """The fields of sentencepiece's ModelProto that transformers' SentencePieceExtractor reads,
    decoded by hand (field numbers from sentencepiece_model.proto) for venvs without protobuf."""
    pieces, trainer, normalizer = [], {}, {}
    for f, v in _fields(data):
        if f == 1:
            p = {1: b"", 2: struct.pack("<f", 0.0), 3: 1}
            p.update(dict(_fields(v)))
            pieces.append(SimpleNamespace(piece=p[1].decode(), score=struct.unpack("<f", p[2])[0], type=p[3]))
        elif f == 2:
            trainer.update(dict(_fields(v)))
        elif f == 3:
            normalizer.update(dict(_fields(v)))
    spec = SimpleNamespace(
        model_type=trainer.get(3, 1), unk_id=_int32(trainer.get(40, 0)), bos_id=_int32(trainer.get(41, 1)),
        eos_id=_int32(trainer.get(42, 2)), pad_id=_int32(trainer.get(43, -1)),
        unk_piece=trainer.get(45, b"<unk>").decode(), bos_piece=trainer.get(46, b"<s>").decode(),
        eos_piece=trainer.get(47, b"</s>").decode(), pad_piece=trainer.get(48, b"<pad>").decode())
    return SimpleNamespace(pieces=pieces, trainer_spec=spec,
                           normalizer_spec=SimpleNamespace(precompiled_charsmap=normalizer.get(2, b"")))


def allow_spm_without_protobuf() -> bool:
    """transformers converts spiece.model through protobuf; without it, feed the same extractor
    from the hand decoder above. Returns whether the patch was needed."""
    try:
        import google.protobuf  # noqa: F401
        return False
    except ImportError:
        import transformers.convert_slow_tokenizer as conv

        def init(self, model):
            with open(model, "rb") as f:
                self.proto = parse_spm_model(f.read())

        conv.SentencePieceExtractor.__init__ = init
        return True


def encode_all(tok, prompts):
    rows = []
    for p in prompts:
        e = tok(p, padding="max_length", max_length=MAX_LENGTH, truncation=True, add_special_tokens=True)
        full = tok(p, add_special_tokens=True)["input_ids"]
        rows.append({"prompt": p, "ids": e["input_ids"], "mask": e["attention_mask"],
                     "types": e.get("token_type_ids"), "count": len(full), "untruncated": full})
    return rows


def with_long_prompts(tok, prompts):
    """Adds prompts of exactly MAX_LENGTH and MAX_LENGTH + 1 tokens and one far longer."""
    rng = random.Random(7)
    words = [rng.choice(WORDS) for _ in range(4 * MAX_LENGTH)]
    out = list(prompts) + [" ".join(words)]
    count = lambda p: len(tok(p)["input_ids"])  # noqa: E731
    n = max(n for n in range(len(words)) if count(" ".join(words[:n])) < MAX_LENGTH)
    prompt = " ".join(words[:n])
    while count(prompt) < MAX_LENGTH:
        prompt += " a"
    assert count(prompt) == MAX_LENGTH, f"{count(prompt)} tokens; change the seed"
    over = [prompt + t for t in (".", "!", ",", " a", " 7", " x", " the") if count(prompt + t) == MAX_LENGTH + 1]
    assert over, "no prompt of MAX_LENGTH + 1 tokens; change the seed"
    found = {MAX_LENGTH: prompt, MAX_LENGTH + 1: over[0]}
    return out + list(found.values())


def tokenizer_main(out: str) -> None:
    import sentencepiece as spm
    from transformers import BertTokenizer, T5Tokenizer

    patched = allow_spm_without_protobuf()

    # T5: a unigram sentencepiece model with T5's special ids, in a folder that has only spiece.model
    # (as T5 checkpoints ship), converted by transformers and saved as tokenizer.json elsewhere.
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()), model_writer=model, vocab_size=500, hard_vocab_limit=False,
        model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0,
        num_threads=1, minloglevel=2)
    spm_dir, t5_dir = os.path.join(out, "t5_spiece_only"), os.path.join(out, "t5")
    os.makedirs(spm_dir, exist_ok=True)
    with open(os.path.join(spm_dir, "spiece.model"), "wb") as f:
        f.write(model.getvalue())
    t5 = T5Tokenizer.from_pretrained(spm_dir)
    t5.save_pretrained(t5_dir)
    assert os.path.exists(os.path.join(t5_dir, "tokenizer.json"))
    prompts = with_long_prompts(t5, PROMPTS)
    t5_rows = encode_all(t5, prompts)
    # The saved tokenizer.json must behave as the tokenizer it was saved from.
    assert encode_all(T5Tokenizer.from_pretrained(t5_dir), prompts) == t5_rows
    # sentencepiece itself, for information (transformers' T5 tokenizer is the reference).
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    for row in t5_rows:
        row["sentencepiece"] = sp.encode(row["prompt"]) + [1]

    # BERT: a WordPiece vocabulary, right (default) and left padding.
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(
        w.lower() for w in WORDS if w.isascii())) + ["##s", "##ing", "##ed", "##er", "##ly"] + \
        list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-:;()$%&*[]{}<>/\\|~`^") + \
        ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"] + ["cafe", "naive", "東", "京", "の", "夜", "猫"]
    bert_rows = {}
    for side in ("right", "left"):
        src = os.path.join(out, f"bert_vocab_{side}")
        os.makedirs(src, exist_ok=True)
        with open(os.path.join(src, "vocab.txt"), "w") as f:
            f.write("\n".join(vocab) + "\n")
        bert = BertTokenizer.from_pretrained(src, do_lower_case=True, padding_side=side)
        bert.save_pretrained(os.path.join(out, f"bert_{side}"))
        bert_rows[side] = encode_all(bert, with_long_prompts(bert, PROMPTS))

    with open(os.path.join(out, "tokenizer_reference.json"), "w") as f:
        json.dump({"max_length": MAX_LENGTH, "protobuf_patched": patched, "t5": t5_rows,
                   "bert_right": bert_rows["right"], "bert_left": bert_rows["left"]}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    what, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    {"model": model_main, "tokenizer": tokenizer_main}[what](out)
