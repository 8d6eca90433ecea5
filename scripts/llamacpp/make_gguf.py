#!/usr/bin/env python3
"""Write GPT-2 124M-shaped GGUF v3 files with random weights, for llama.cpp to load.

Usage: make_gguf.py TOKENIZER_DIR OUT_DIR [--seed N] [--variants f32,f16,q8_0]

TOKENIZER_DIR holds GPT-2's encoder.json and vocab.bpe; OUT_DIR receives
  gpt2-f32.gguf   every tensor f32                                                 (500 MB)
  gpt2-f16.gguf   2-D weight matrices f16 (token/position embeddings too), the rest f32  (251 MB)
  gpt2-q8_0.gguf  2-D weight matrices q8_0 (token/position embeddings too, as
                  llama-quantize writes them), the rest f32                         (134 MB)
Each file is written beside its final name and renamed into place once complete.

Model: architecture gpt2, n_vocab 50257, n_ctx 1024, n_embd 768, n_head 12, n_layer 12,
n_ff 3072, layer-norm eps 1e-5: 124,439,808 parameters. Tensors carry llama.cpp's names
(token_embd, position_embd, blk.N.{attn_norm,attn_qkv,attn_output,ffn_norm,ffn_up,ffn_down}
.{weight,bias}, output_norm.{weight,bias}); there is no output.weight, so llama.cpp ties the
LM head to token_embd. Weights are normal(0, 0.02) from numpy's default_rng(seed), the same
for every format; layer-norm weights are 1 and all biases 0. The tokenizer is GPT-2's own
(tokenizer.ggml.model "gpt2", pre "gpt-2", bos = eos = <|endoftext|> = 50256), so that
llama.cpp tokenizes text as GPT-2 does.

The container is written here with numpy alone (no gguf package):
  header: magic "GGUF", u32 version 3, u64 n_tensors, u64 n_kv
  n_kv metadata entries: gguf string key, u32 value type, value
  n_tensors tensor infos: gguf string name, u32 n_dims, u64 ne[n_dims], u32 ggml type,
    u64 offset into the data section
  zero padding to general.alignment (32), then the tensor data, each tensor at an offset
    aligned to 32
A gguf string is a u64 byte length and the UTF-8 bytes, without a terminator. ggml lists
dimensions innermost first: a row-major (out, in) matrix has ne = [in, out].
q8_0 stores blocks of 32 weights as an fp16 scale d = max|x| / 127 and 32 int8 values
round(x / d), rounded half away from zero as ggml's quantize_row_q8_0_ref does, so the bytes
are those llama.cpp's own quantizer writes.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np

N_VOCAB = 50257
N_CTX = 1024
N_EMBD = 768
N_HEAD = 12
N_LAYER = 12
N_FF = 3072
LN_EPS = 1e-5
EOT_ID = 50256

# gguf metadata value types
GGUF_UINT8, GGUF_INT8, GGUF_UINT16, GGUF_INT16, GGUF_UINT32, GGUF_INT32 = 0, 1, 2, 3, 4, 5
GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY, GGUF_UINT64, GGUF_INT64, GGUF_FLOAT64 = 6, 7, 8, 9, 10, 11, 12

# ggml tensor types
GGML_F32, GGML_F16, GGML_Q8_0 = 0, 1, 8
QK8_0 = 32  # weights per q8_0 block

# general.file_type (llama_ftype): ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q8_0 = 7
FTYPE = {"f32": 0, "f16": 1, "q8_0": 7}
MATRIX_TYPE = {"f32": GGML_F32, "f16": GGML_F16, "q8_0": GGML_Q8_0}

ALIGN = 32


# ---------------------------------------------------------------- gguf encoding
def gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv_entry(key, vtype, value, arr_type=None):
    """One metadata entry: key, value type, value (an array: element type, count, elements)."""
    out = [gguf_str(key), struct.pack("<I", vtype)]
    if vtype == GGUF_ARRAY:
        out.append(struct.pack("<IQ", arr_type, len(value)))
        if arr_type == GGUF_STRING:
            out.extend(gguf_str(v) for v in value)
        elif arr_type == GGUF_INT32:
            out.append(np.asarray(value, dtype="<i4").tobytes())
        elif arr_type == GGUF_FLOAT32:
            out.append(np.asarray(value, dtype="<f4").tobytes())
        else:
            raise ValueError(arr_type)
    elif vtype == GGUF_STRING:
        out.append(gguf_str(value))
    elif vtype == GGUF_UINT32:
        out.append(struct.pack("<I", value))
    elif vtype == GGUF_INT32:
        out.append(struct.pack("<i", value))
    elif vtype == GGUF_FLOAT32:
        out.append(struct.pack("<f", value))
    elif vtype == GGUF_BOOL:
        out.append(struct.pack("<B", 1 if value else 0))
    else:
        raise ValueError(vtype)
    return b"".join(out)


# ---------------------------------------------------------------- quantization
def quantize_q8_0(x):
    """x: float32 array whose last dimension is a multiple of 32 -> bytes of its block_q8_0s."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    assert x.shape[-1] % QK8_0 == 0
    blocks = x.reshape(-1, QK8_0)
    amax = np.abs(blocks).max(axis=1)
    d = amax / 127.0
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, 1.0 / d, 0.0).astype(np.float32)
    v = blocks * idv[:, None]
    # roundf(): half away from zero
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)
    out = np.empty(blocks.shape[0], dtype=[("d", "<f2"), ("qs", "i1", (QK8_0,))])
    out["d"] = d.astype(np.float16)
    out["qs"] = q
    return out.tobytes()


def encode_tensor(arr, ggml_type):
    """arr in numpy's row-major shape -> (ggml ne, data bytes)."""
    ne = list(reversed(arr.shape))
    if ggml_type == GGML_F32:
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
    elif ggml_type == GGML_F16:
        data = np.ascontiguousarray(arr, dtype="<f2").tobytes()
    elif ggml_type == GGML_Q8_0:
        data = quantize_q8_0(arr)
    else:
        raise ValueError(ggml_type)
    return ne, data


# ---------------------------------------------------------------- model
def make_weights(seed):
    """(name, float32 array in numpy's row-major shape) for every tensor, the same for a seed."""
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)).astype(np.float32)

    def ones(n):
        return np.ones(n, dtype=np.float32)

    def zeros(n):
        return np.zeros(n, dtype=np.float32)

    t = [
        ("token_embd.weight", normal(N_VOCAB, N_EMBD)),    # ne [768, 50257]
        ("position_embd.weight", normal(N_CTX, N_EMBD)),   # ne [768, 1024]
    ]
    for i in range(N_LAYER):
        p = f"blk.{i}."
        t += [
            (p + "attn_norm.weight", ones(N_EMBD)),
            (p + "attn_norm.bias", zeros(N_EMBD)),
            (p + "attn_qkv.weight", normal(3 * N_EMBD, N_EMBD)),  # (out, in): ne [768, 2304]
            (p + "attn_qkv.bias", zeros(3 * N_EMBD)),
            (p + "attn_output.weight", normal(N_EMBD, N_EMBD)),   # ne [768, 768]
            (p + "attn_output.bias", zeros(N_EMBD)),
            (p + "ffn_norm.weight", ones(N_EMBD)),
            (p + "ffn_norm.bias", zeros(N_EMBD)),
            (p + "ffn_up.weight", normal(N_FF, N_EMBD)),          # ne [768, 3072]
            (p + "ffn_up.bias", zeros(N_FF)),
            (p + "ffn_down.weight", normal(N_EMBD, N_FF)),        # ne [3072, 768]
            (p + "ffn_down.bias", zeros(N_EMBD)),
        ]
    t += [
        ("output_norm.weight", ones(N_EMBD)),
        ("output_norm.bias", zeros(N_EMBD)),
    ]
    return t


def load_tokenizer(tok_dir):
    """GPT-2's vocabulary (ids 0..50256), token types and BPE merges from tok_dir."""
    with open(os.path.join(tok_dir, "encoder.json"), encoding="utf-8") as f:
        enc = json.load(f)
    tokens = [None] * len(enc)
    for s, i in enc.items():
        tokens[i] = s
    if len(tokens) != N_VOCAB or any(t is None for t in tokens):
        sys.exit(f"make_gguf: {tok_dir}/encoder.json is not GPT-2's {N_VOCAB}-token vocabulary")
    merges = []
    with open(os.path.join(tok_dir, "vocab.bpe"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#version"):
                continue
            merges.append(line)
    # token types: 1 = NORMAL, 3 = CONTROL (<|endoftext|>)
    types = [1] * N_VOCAB
    types[EOT_ID] = 3
    return tokens, types, merges


def metadata(variant, tokens, types, merges):
    return [
        kv_entry("general.architecture", GGUF_STRING, "gpt2"),
        kv_entry("general.name", GGUF_STRING, f"gpt2-124m-random-{variant}"),
        kv_entry("general.alignment", GGUF_UINT32, ALIGN),
        kv_entry("general.file_type", GGUF_UINT32, FTYPE[variant]),
        kv_entry("gpt2.context_length", GGUF_UINT32, N_CTX),
        kv_entry("gpt2.embedding_length", GGUF_UINT32, N_EMBD),
        kv_entry("gpt2.feed_forward_length", GGUF_UINT32, N_FF),
        kv_entry("gpt2.block_count", GGUF_UINT32, N_LAYER),
        kv_entry("gpt2.attention.head_count", GGUF_UINT32, N_HEAD),
        kv_entry("gpt2.attention.layer_norm_epsilon", GGUF_FLOAT32, LN_EPS),
        kv_entry("tokenizer.ggml.model", GGUF_STRING, "gpt2"),
        kv_entry("tokenizer.ggml.pre", GGUF_STRING, "gpt-2"),
        kv_entry("tokenizer.ggml.tokens", GGUF_ARRAY, tokens, GGUF_STRING),
        kv_entry("tokenizer.ggml.token_type", GGUF_ARRAY, types, GGUF_INT32),
        kv_entry("tokenizer.ggml.merges", GGUF_ARRAY, merges, GGUF_STRING),
        kv_entry("tokenizer.ggml.bos_token_id", GGUF_UINT32, EOT_ID),
        kv_entry("tokenizer.ggml.eos_token_id", GGUF_UINT32, EOT_ID),
        kv_entry("tokenizer.ggml.add_bos_token", GGUF_BOOL, False),
    ]


def type_for(variant, name, arr):
    """The format's type for 2-D weight matrices; f32 for the vectors (norms, biases)."""
    if arr.ndim == 2 and name.endswith(".weight"):
        return MATRIX_TYPE[variant]
    return GGML_F32


def pad(n):
    return (ALIGN - n % ALIGN) % ALIGN


def write_gguf(path, variant, weights, kv):
    infos = []
    blobs = []
    offset = 0
    for name, arr in weights:
        gt = type_for(variant, name, arr)
        ne, data = encode_tensor(arr, gt)
        infos.append(gguf_str(name) + struct.pack("<I", len(ne)) +
                     struct.pack(f"<{len(ne)}Q", *ne) + struct.pack("<IQ", gt, offset))
        blobs.append(data)
        offset += len(data)
        offset += pad(offset)
    header = b"GGUF" + struct.pack("<IQQ", 3, len(weights), len(kv))
    head = header + b"".join(kv) + b"".join(infos)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(head)
        f.write(b"\0" * pad(len(head)))
        for data in blobs:
            f.write(data)
            f.write(b"\0" * pad(len(data)))
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description="Write GPT-2 124M-shaped GGUF files with random weights.")
    ap.add_argument("tokenizer", help="folder with GPT-2's encoder.json and vocab.bpe")
    ap.add_argument("out", help="folder to write gpt2-<variant>.gguf into")
    ap.add_argument("--seed", type=int, default=1234, help="seed of the random weights (default 1234)")
    ap.add_argument("--variants", default="f32,f16,q8_0", help="comma-separated formats among f32, f16, q8_0")
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in MATRIX_TYPE:
            ap.error(f"unknown variant {v!r} (want f32, f16 or q8_0)")

    t0 = time.time()
    tokens, types, merges = load_tokenizer(args.tokenizer)
    weights = make_weights(args.seed)
    nparams = sum(a.size for _, a in weights)
    print(f"make_gguf: {len(weights)} tensors, {nparams} parameters, {len(merges)} merges ({time.time()-t0:.1f}s)", file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    for variant in variants:
        path = os.path.join(args.out, f"gpt2-{variant}.gguf")
        write_gguf(path, variant, weights, metadata(variant, tokens, types, merges))
        print(f"make_gguf: wrote {path}, {os.path.getsize(path)/1e6:.1f} MB ({time.time()-t0:.1f}s)", file=sys.stderr)


if __name__ == "__main__":
    main()
