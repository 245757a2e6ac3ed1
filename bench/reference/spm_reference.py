#!/usr/bin/python3
"""Reference ids for ChatForge's SentencePiece-style BPE tokenizer (Llama-2, TinyLlama, Mistral-7B-v0.1).

Writes tests/ChatForge.Import.Tests/Fixtures/spm-tokenizer/: a small tokenizer.json in the layout that
transformers' LlamaConverter produces (model BPE with byte_fallback, vocab <unk> <s> </s>, the 256 <0xNN>
byte tokens, merged pieces, then single characters; normalizer Prepend("▁") + Replace(" ", "▁"), no
pre-tokenizer, decoder Replace/ByteFallback/Fuse/Strip), a TinyLlama (Zephyr) tokenizer_config.json, and
expected.json with the test text, its ids, the ids of " " + text under a Metaspace pre-tokenizer (split on ▁), and the
pieces' scores (for a GGUF "llama" tokenizer built from the same vocabulary).

The algorithms are written out here in plain Python, independently of the C# code:
  * hf_bpe: Hugging Face tokenizers' BPE model. Within one pre-token, start from the characters (a character
    missing from the vocabulary becomes its UTF-8 bytes as <0xNN> tokens: byte_fallback), then repeatedly
    apply the merge of lowest rank (its index in "merges"), the leftmost one on ties.
  * llama_cpp_spm: llama.cpp's SPM tokenizer on the GGUF form (tokens + scores): repeatedly merge the adjacent
    pair whose concatenation is a vocabulary piece with the highest score, then byte-fall-back leftovers.
  * merges are derived from the scores the way transformers' SentencePieceExtractor does, so both must agree;
    the script checks that they do on every text.

  /usr/bin/python3 bench/reference/spm_reference.py [--out tests/ChatForge.Import.Tests/Fixtures]
"""
import argparse, json, os

SPACE = "\u2581"  # ▁
CORPUS = ("The model answers questions in English and Chinese. 模型用中文和英文回答问题。"
          "Hello world! 你好，世界！ It's a small tokenizer for the tests, 这是测试用的分词器。 "
          "The answer is 42 and the year is 2024. Tests pass, the model answers. ") * 3
# Characters that are not in the corpus ("龍", "—", "🙂", "<", "/", ">", "\n" as in Llama) fall back to bytes.
TEXT = "Hello world! 你好，世界！ The model answers in 中文 and English.\nIt's 2024 —  tests   pass 🙂 龍\n\n</s> done"
OTHER_TEXTS = [" leading space", "世界", "a\tb", "龍龍 🙂🙂"]
MERGES_COUNT = 120
ZEPHYR_TEMPLATE = ("{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n"
                   "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
                   "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
                   "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}")

def normalize(text):
    """Llama-2's normalizer: Prepend("▁") (only to non-empty text), then Replace(" ", "▁")."""
    return (SPACE + text if text else text).replace(" ", SPACE)

def metaspace_split(text):
    """Metaspace(replacement ▁, prepend_scheme first, split true) on text at offset 0."""
    t = text.replace(" ", SPACE)
    if t and not t.startswith(SPACE):
        t = SPACE + t
    pieces, start = [], 0
    for i, c in enumerate(t):
        if c == SPACE and i > start:
            pieces.append(t[start:i]); start = i
    if start < len(t):
        pieces.append(t[start:])
    return pieces

def train(corpus):
    """SentencePiece-style BPE training on words split before each ▁: merged pieces never hold ▁ after their start."""
    words = metaspace_split(corpus)
    symbols = [list(w) for w in words]
    chars = sorted({c for w in words for c in w})
    pieces = []  # merged pieces in creation order
    for _ in range(MERGES_COUNT):
        counts = {}
        for s in symbols:
            for a, b in zip(s, s[1:]):
                if SPACE in b:
                    continue
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        best = max(sorted(counts), key=lambda p: counts[p])
        merged = best[0] + best[1]
        if merged not in pieces:
            pieces.append(merged)
        for s in symbols:
            i = 0
            while i + 1 < len(s):
                if (s[i], s[i + 1]) == best:
                    s[i:i + 2] = [merged]
                i += 1
    return pieces, chars

def build_vocab(pieces, chars):
    """Llama's layout: <unk> <s> </s>, 256 byte tokens, merged pieces by score, then the single characters."""
    tokens = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
    tokens += [(f"<0x{b:02X}>", 0.0, 6) for b in range(256)]
    tokens += [(p, -float(i), 1) for i, p in enumerate(pieces)]
    tokens += [(c, -float(len(pieces) + i), 1) for i, c in enumerate(c for c in chars if c not in pieces)]
    return tokens

def extract_merges(tokens):
    """transformers' SentencePieceExtractor: every split (l, r) of a piece into two pieces, by the piece's score (descending), stable."""
    vocab = {t: i for i, (t, _, _) in enumerate(tokens)}
    merges = []
    for piece, score, _ in tokens:
        local = [(piece[:k], piece[k:], score) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2], reverse=True)
    return [(l, r) for l, r, _ in merges]

def hf_bpe(word, vocab, ranks):
    ids = []
    for c in word:
        if c in vocab:
            ids.append(vocab[c])
        else:  # byte_fallback: every byte token exists in this vocabulary
            ids.extend(vocab[f"<0x{b:02X}>"] for b in c.encode("utf-8"))
    id_to_token = {i: t for t, i in vocab.items()}
    while True:
        best = None
        for i in range(len(ids) - 1):
            rank = ranks.get((id_to_token[ids[i]], id_to_token[ids[i + 1]]))
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, i)
        if best is None:
            return ids
        i = best[1]
        ids[i:i + 2] = [vocab[id_to_token[ids[i]] + id_to_token[ids[i + 1]]]]

def llama_cpp_spm(text, tokens):
    vocab = {t: i for i, (t, _, kind) in enumerate(tokens) if kind == 1}
    byte_id = {int(t[3:5], 16): i for i, (t, _, kind) in enumerate(tokens) if kind == 6}
    symbols = list(normalize(text))
    while True:
        best = None
        for i in range(len(symbols) - 1):
            piece = symbols[i] + symbols[i + 1]
            if piece in vocab:
                score = tokens[vocab[piece]][1]
                if best is None or score > best[0]:
                    best = (score, i)
        if best is None:
            break
        i = best[1]
        symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]
    ids = []
    for s in symbols:
        ids.extend([vocab[s]] if s in vocab else [byte_id[b] for b in s.encode("utf-8")])
    return ids

def decode(ids, tokens):
    out = b""
    for i in ids:
        t, _, kind = tokens[i]
        out += bytes([int(t[3:5], 16)]) if kind == 6 else t.replace(SPACE, " ").encode("utf-8")
    text = out.decode("utf-8")
    return text[1:] if text.startswith(" ") else text

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="tests/ChatForge.Import.Tests/Fixtures")
    folder = os.path.join(parser.parse_args().out, "spm-tokenizer")
    pieces, chars = train(CORPUS)
    tokens = build_vocab(pieces, chars)
    merges = extract_merges(tokens)
    vocab = {t: i for i, (t, _, _) in enumerate(tokens)}
    ranks = {}
    for r, m in enumerate(merges):
        ranks.setdefault(m, r)
    assert "龍" not in vocab and "界" in vocab and "<" not in vocab and "\n" not in vocab

    encode = lambda text: hf_bpe(normalize(text), vocab, ranks)
    for text in [TEXT] + OTHER_TEXTS:
        ids = encode(text)
        assert ids == llama_cpp_spm(text, tokens), f"HF BPE and llama.cpp SPM disagree on {text!r}"
        assert decode(ids, tokens) == text, f"round trip of {text!r}"
    ids = encode(TEXT)
    # With a leading space, Metaspace (no ▁ added before an existing ▁) and Prepend ("▁▁") differ.
    metaspace_ids = [i for p in metaspace_split(" " + TEXT) for i in hf_bpe(p, vocab, ranks)]
    assert metaspace_ids != encode(" " + TEXT)

    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
             for i, (t, _, _) in enumerate(tokens[:3])]
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE}, {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "vocab": vocab, "merges": [l + " " + r for l, r in merges]},
    }
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False, indent=1)
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                   "chat_template": ZEPHYR_TEMPLATE, "legacy": False, "model_max_length": 2048}, f, ensure_ascii=False, indent=1)
    with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"text": TEXT, "ids": ids, "metaspace_text": " " + TEXT, "metaspace_ids": metaspace_ids,
                   "scores": [s for _, s, _ in tokens], "token_types": [k for _, _, k in tokens]}, f, ensure_ascii=False)
    print(f"spm-tokenizer: {len(tokens)} tokens, {len(merges)} merges, {len(ids)} ids for the test text "
          f"({sum(1 for i in ids if 3 <= i < 259)} byte tokens); llama.cpp SPM agrees on {1 + len(OTHER_TEXTS)} texts")

if __name__ == "__main__":
    main()
