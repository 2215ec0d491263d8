"""Reference for tests/bert_parity.rs: transformers' BertModel and fast tokenizer on the real
all-MiniLM-L6-v2 weights, plus sentence-transformers' mean pooling and L2 normalisation
(written out here: the sentence-transformers package is not in the venv; its Pooling(mean) and
Normalize modules are these three lines).

usage: bert_reference.py MODEL_DIR SENTENCES_JSON OUT_SAFETENSORS MAX_SEQ_LENGTH
"""
import json
import sys

import torch
from transformers import AutoModel, AutoTokenizer

from common import deterministic, save


def main() -> None:
    model_dir, sentences_path, out, max_len = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    deterministic(0)
    with open(sentences_path, encoding="utf-8") as f:
        sentences = json.load(f)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert tokenizer.is_fast, "expected the fast tokenizer from tokenizer.json"
    model = AutoModel.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    assert type(model).__name__ == "BertModel", type(model).__name__
    # What sentence_transformers.models.Transformer.tokenize does for one text column.
    batch = tokenizer(sentences, padding=True, truncation="longest_first", max_length=max_len,
                      return_tensors="pt")
    with torch.no_grad():
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       token_type_ids=batch["token_type_ids"]).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    embeddings = torch.nn.functional.normalize(mean, p=2, dim=1)
    save(out, {
        "input_ids": batch["input_ids"].to(torch.int64),
        "attention_mask": batch["attention_mask"].to(torch.int64),
        "token_type_ids": batch["token_type_ids"].to(torch.int64),
        "last_hidden_state": hidden,
        "embeddings": embeddings,
    })


if __name__ == "__main__":
    main()
