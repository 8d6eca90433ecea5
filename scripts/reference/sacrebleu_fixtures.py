#!/usr/bin/env python3
"""Scores synthetic corpora with sacreBLEU itself and writes eval/testdata/sacrebleu_fixtures.json.

The fixtures in bleu_fixtures.json come from bleu_reference.py, a restatement of sacreBLEU's
algorithm; this script checks that restatement against the real program, and adds larger
random corpora that exercise the 13a tokenizer on mixed text (umlauts, CJK, entities, numbers,
glued punctuation, upper case). Run it where sacreBLEU is importable:

    python3 -m venv /tmp/sb && /tmp/sb/bin/pip install sacrebleu==2.6.0
    /tmp/sb/bin/python scripts/reference/sacrebleu_fixtures.py --check eval/testdata/bleu_fixtures.json \
        --data ../shared/data --out eval/testdata/sacrebleu_fixtures.json

--check scores every case of bleu_fixtures.json with sacreBLEU (reading lines as its command line
does: split at "\n", each rstripped) and fails if any score or printed line differs.
"""
import argparse
import gzip
import io
import json
import random
import sys

import sacrebleu
from sacrebleu.metrics import BLEU, CHRF

WORDS = ("ein Mann eine Frau zwei Hunde spielen im Park auf der Straße mit einem roten Ball "
         "Kinder laufen über die Brücke während ein älterer Herr Zeitung liest . , ! ? ; : "
         "\" ' ( ) - 1,000 3.14 12:30 U.S.A. don't it's e-mail &amp; &quot; &lt;b&gt; "
         "café naïve Größe übermäßig 東京 の 猫 が 好き です 。 😀 — … $5 50% #tag @user").split()


def lines(text):
    """A file's lines as sacreBLEU's command line reads them (newline="\\n", rstrip)."""
    return [line.rstrip() for line in io.StringIO(text, newline="\n")]


def score(hyp, refs, lowercase):
    b = BLEU(lowercase=lowercase).corpus_score(hyp, refs)
    c = CHRF(lowercase=lowercase).corpus_score(hyp, refs)
    return b, c


def check(path, data):
    fx = json.load(open(path, encoding="utf-8"))
    bad = 0
    for case in fx["cases"] + fx.get("shared_data", []):
        if case in fx.get("shared_data", []):
            if not data:
                continue
            def read(spec):
                name, sl = spec.split("[")
                with gzip.open(f"{data}/multi30k-en-de/{name}", "rt", encoding="utf-8", newline="\n") as f:
                    return [line.rstrip() for line in f][: int(sl.strip(":]"))]
            hyp, refs = read(case["hyp"]), [read(r) for r in case["refs"]]
        else:
            hyp, refs = lines(case["hyp"]), [lines(r) for r in case["refs"]]
        b, c = score(hyp, refs, case["lowercase"])
        want = case["expected"]
        same = (abs(b.score - want["bleu"]["score"]) < 1e-9 and str(b) == want["bleu"]["line"]
                and abs(c.score - want["chrf"]["score"]) < 1e-9 and str(c) == want["chrf"]["line"])
        if not same:
            bad += 1
            print(f"{case['name']}: sacreBLEU {b} / {c}; fixture {want['bleu']['line']} / {want['chrf']['line']}")
    print(f"{path}: {bad} case(s) differ from sacreBLEU {sacrebleu.__version__}")
    return bad == 0


def sentence(rng, lo=1, hi=25):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def perturb(rng, s):
    out = []
    for t in s.split():
        r = rng.random()
        if r < 0.15:
            continue
        if r < 0.25:
            out.append(rng.choice(WORDS))
        elif r < 0.30:
            out.extend([t, rng.choice(WORDS)])
        else:
            out.append(t)
    text = " ".join(out)
    if rng.random() < 0.3:  # glue punctuation onto words, for the 13a rules
        text = text.replace(" .", ".").replace(" ,", ",")
    return text


def synthetic():
    rng = random.Random(2016)
    refs = [sentence(rng) for _ in range(80)]
    hyp = [perturb(rng, r) for r in refs]
    ref2 = [perturb(rng, r) for r in refs]
    ref3 = [sentence(rng, 1, 8) for _ in refs]
    mixed = [h.upper() if i % 3 == 0 else h for i, h in enumerate(hyp)]
    short = [" ".join(h.split()[: max(1, len(h.split()) // 3)]) for h in hyp]
    return [
        ("random_single", hyp, [refs], False),
        ("random_multi3", hyp, [refs, ref2, ref3], False),
        ("random_upper_cased", mixed, [refs], False),
        ("random_upper_lower", mixed, [refs], True),
        ("random_short", short, [refs], False),
        ("random_empty_lines", [h if i % 4 else "" for i, h in enumerate(hyp)], [refs], False),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check")
    ap.add_argument("--data")
    ap.add_argument("--out")
    a = ap.parse_args()
    ok = True
    if a.check:
        ok = check(a.check, a.data)
    if a.out:
        cases = []
        for name, hyp, refs, lower in synthetic():
            b, c = score(hyp, refs, lower)
            cases.append({"name": name, "hyp": hyp, "refs": refs, "lowercase": lower,
                          "bleu": {"score": b.score, "correct": b.counts, "total": b.totals,
                                   "sys_len": b.sys_len, "ref_len": b.ref_len, "line": str(b)},
                          "chrf": {"score": c.score, "line": str(c)}})
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump({"generator": f"sacreBLEU {sacrebleu.__version__} (scripts/reference/sacrebleu_fixtures.py)",
                       "cases": cases}, f, ensure_ascii=False, indent=0)
            f.write("\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
