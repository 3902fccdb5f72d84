#!/usr/bin/env python3
"""Writes shared/minilm/tests/tokenizer-fixture.json: how Hugging Face's
tokenizers library splits a set of texts into all-MiniLM-L6-v2's word pieces,
the reference that jarvis-minilm's own WordPiece tokenizer is tested against.

The texts are hand-picked edge cases (accents, CJK, control and format
characters, the special tokens written out, words over 100 characters, texts
past the 256-piece limit) and a seeded random sample that mixes scripts,
punctuation, whitespace of every kind, emoji and combining marks. Only run it
to change the corpus; the fixture is committed.

usage (the `tokenizers` package from PyPI, any recent version):
    python3 scripts/tokenizer-fixture.py models/all-MiniLM-L6-v2
"""

import json
import pathlib
import random
import sys

from tokenizers import Tokenizer

MAX_SEQ = 256
OUT = pathlib.Path(__file__).resolve().parent.parent / "shared/minilm/tests/tokenizer-fixture.json"

HAND = [
    "",
    "   ",
    "Hello, World! café naïve",
    "The invoice for the boiler repair is due on Friday.",
    "Der Vertrag mit dem Vermieter endet im März. Straße, Größe, Ärger.",
    "[CLS] hi [sep] [SEP]x [MASK][PAD][UNK] [CLS[SEP]] [[CLS]]",
    "野口里佳 Noguchi Rika 東京都 の ひらがな カタカナ 한국어 텍스트",
    "a\u200bb\u00adc\u200dd\ufeffe\u2060f",
    "İstanbul ǅemal ﬁnance ẞ ΣΑΣ Ὀδυσσεύς",
    "x" * 100,
    "x" * 101,
    "é" * 101,
    "tab\tnew\nline\rcarriage\u3000ideographic\u00a0nbsp\u2028sep\x0bvt\x0cff",
    "nul\x00and\ufffdreplacement\x7fdel\x85nel\u0378unassigned\ue000private",
    "3.14 1,000,000 $5 50% e-mail a.b@c.de https://example.com/a?b=c&d=e#f",
    "fn main() { println!(\"{}\", x[0] + y->z); } // <b>bold</b>",
    "emoji 👍🏽 👨‍👩‍👧 🇩🇪 ❤️ 🤖",
    "math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐛𝐨𝐥𝐝 ①②③ ½ ² ™",
    "«quotes» „German“ ‘single’ — dash – en … ellipsis ¿qué? ¡sí!",
    "Привет, мир! Ελληνικά. مرحبا بالعالم. नमस्ते दुनिया. שלום",
    "e\u0301 a\u0308 n\u0303 combining: o\u0327\u0306 \u0301alone",
    "UPPER lower MiXeD CamelCaseWord snake_case kebab-case",
    " ".join(["word"] * 400),
    " ".join(["unbelievably"] * 200),
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
]

POOLS = [
    # (weight, characters drawn from)
    (30, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    (6, "0123456789"),
    (8, "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    (10, " \t\n\r\u00a0\u2002\u2009\u200a\u3000\u2028\u2029\x0b\x0c\x1c\x85"),
    (4, "".join(map(chr, range(0xC0, 0x180)))),          # Latin-1 and Extended-A
    (3, "".join(map(chr, range(0x391, 0x3CA)))),         # Greek
    (3, "".join(map(chr, range(0x410, 0x450)))),         # Cyrillic
    (3, "".join(map(chr, range(0x4E00, 0x4E80)))),       # CJK ideographs
    (2, "".join(map(chr, range(0x3041, 0x3097)))),       # Hiragana
    (2, "".join(map(chr, range(0xAC00, 0xAC80)))),       # Hangul
    (2, "".join(map(chr, range(0x627, 0x64B)))),         # Arabic
    (2, "".join(map(chr, range(0x905, 0x940)))),         # Devanagari
    (2, "".join(map(chr, range(0x300, 0x370)))),         # combining marks
    (2, "".join(map(chr, range(0x2000, 0x2070)))),       # general punctuation, format
    (2, "".join(map(chr, range(0x1F300, 0x1F650)))),     # emoji
    (1, "".join(map(chr, range(0x1D400, 0x1D4A0)))),     # mathematical letters
    (1, "\x00\x01\x07\x1b\x7f\x80\x9f\ufffd\ufeff\ue000\uf8ff\U000F0000"),
]
SPECIAL = ["[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "[cls]", "[MASK"]


def random_text(rng: random.Random, vocab: list) -> str:
    parts = []
    for _ in range(rng.randrange(0, 40)):
        roll = rng.random()
        if roll < 0.45:
            word = rng.choice(vocab)
            parts.append(word.upper() if rng.random() < 0.1 else word)
        elif roll < 0.5:
            parts.append(rng.choice(SPECIAL))
        else:
            pool = rng.choices([p for _, p in POOLS], weights=[w for w, _ in POOLS])[0]
            parts.append("".join(rng.choice(pool) for _ in range(rng.randrange(1, 12))))
        parts.append(rng.choice([" ", " ", " ", "", "\n", ", "]))
    return "".join(parts)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tokenizer = Tokenizer.from_file(str(pathlib.Path(sys.argv[1]) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_SEQ)
    # Whole words from the vocabulary (no word pieces, no special tokens).
    vocab = sorted(w for w in tokenizer.get_vocab() if w.isalpha() and not w.startswith("##"))
    rng = random.Random(20261206)
    texts = HAND + [random_text(rng, vocab) for _ in range(300)]
    cases = [{"text": t, "ids": tokenizer.encode(t).ids} for t in texts]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    lines = ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases)
    OUT.write_text(f'{{"max_seq": {MAX_SEQ}, "cases": [\n{lines}\n]}}\n')
    print(f"{OUT}: {len(cases)} texts, {sum(len(c['ids']) for c in cases)} ids")
    return 0


if __name__ == "__main__":
    sys.exit(main())
