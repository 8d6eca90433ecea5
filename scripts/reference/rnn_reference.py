#!/usr/bin/env python3
"""Reference vectors for qkv's nn.LSTM and nn.GRU, made with PyTorch.

Builds small seeded torch.nn.GRU and torch.nn.LSTM (two layers, bidirectional), runs a padded
batch through them with pack_padded_sequence, and writes, for each, into testdata/rnn/:

  <name>.json          the sizes, the sequence lengths and the tensor names
  <name>.safetensors   the weights (PyTorch names: weight_ih_l0, bias_hh_l1_reverse, ...),
                       the input x (B, T, I), the padded output (B, T, D*H), the final states
                       h_n (and c_n for the LSTM) (L*D, B, H), the fixed random weights r.* of
                       the scalar loss  sum(output*r.output) + sum(h_n*r.h_n) [+ sum(c_n*r.c_n)],
                       and the gradients grad.* of that loss with respect to every weight and x.

Run with the Debian package python3-torch:  /usr/bin/python3 scripts/reference/rnn_reference.py
The safetensors files are written by hand (header JSON + little-endian float32), so the
safetensors Python package is not needed.
"""
import json
import os
import struct

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata", "rnn")


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        data = struct.pack("<%df" % t.numel(), *t.flatten().tolist())
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def reference(name, mode, input_size=3, hidden_size=4, num_layers=2, lengths=(3, 5, 1, 4), seed=0):
    torch.manual_seed(seed)
    cls = {"GRU": torch.nn.GRU, "LSTM": torch.nn.LSTM}[mode]
    rnn = cls(input_size, hidden_size, num_layers=num_layers, bidirectional=True, batch_first=True)
    B, T = len(lengths), max(lengths)
    x = torch.randn(B, T, input_size)
    for b, n in enumerate(lengths):
        x[b, n:] = 0  # padding (its values must not matter)
    x.requires_grad_(True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    out, state = rnn(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    states = {"h_n": state} if mode == "GRU" else {"h_n": state[0], "c_n": state[1]}
    r = {"output": torch.randn_like(out)}
    for k, v in states.items():
        r[k] = torch.randn_like(v)
    loss = (out * r["output"]).sum()
    for k, v in states.items():
        loss = loss + (v * r[k]).sum()
    loss.backward()

    tensors = {"x": x, "output": out}
    tensors.update(states)
    for k, v in r.items():
        tensors["r." + k] = v
    for pname, p in rnn.named_parameters():
        tensors[pname] = p
        tensors["grad." + pname] = p.grad
    tensors["grad.x"] = x.grad
    write_safetensors(os.path.join(OUT, name + ".safetensors"), tensors)
    meta = {
        "mode": mode, "input_size": input_size, "hidden_size": hidden_size, "num_layers": num_layers,
        "bidirectional": True, "batch": B, "seq_len": T, "lengths": list(lengths),
        "loss": loss.item(), "torch_version": torch.__version__,
        "parameters": [n for n, _ in rnn.named_parameters()],
    }
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    reference("gru", "GRU", seed=1)
    reference("lstm", "LSTM", seed=2)
