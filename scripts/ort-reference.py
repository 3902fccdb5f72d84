"""The ONNX Runtime reference for `make bench`: all-MiniLM-L6-v2 (the int8
export `make model` installs) embedded from Python the way Chroma's default
embedder and fastembed do it: the `tokenizers` tokenizer truncating at 256 word
pieces, batches of 32 in the order given, each padded to its longest text, one
session.run per batch with every core, masked mean pooling and L2 normalisation
in numpy. It prints one JSON line: sentences/s in the given order, and sorted
by length (what the Rust engine does), timed after one warm-up batch.

usage: python3 scripts/ort-reference.py MODEL_DIR SENTENCES_FILE
(needs `pip install onnxruntime numpy tokenizers`; `make bench` installs them)
"""

import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

BATCH = 32


def main() -> int:
    model_dir, sentences_file = sys.argv[1], sys.argv[2]
    with open(sentences_file, encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for line in f if line.strip()]
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(os.path.join(model_dir, "model-int8.onnx"), options,
                                   providers=["CPUExecutionProvider"])

    def embed(batch):
        encoded = tokenizer.encode_batch(batch)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[..., None].astype(np.float32)
        vectors = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)

    embed(sentences[:BATCH])  # warm-up
    figures = {}
    for name, order in (("given_order", sentences), ("sorted", sorted(sentences, key=len))):
        started = time.perf_counter()
        for i in range(0, len(order), BATCH):
            embed(order[i:i + BATCH])
        figures[name] = len(order) / (time.perf_counter() - started)
    figures["onnxruntime"] = ort.__version__
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
