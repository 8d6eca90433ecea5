#!/usr/bin/env python3
"""Reference corpus BLEU and chrF, written from sacreBLEU's published algorithm (standard library only).

This is an independent re-statement of what `sacrebleu HYP -r REF [-r REF2 ...]` computes with its
defaults, used to produce the fixtures in eval/testdata/ that the Go tests of package eval compare
against. It reads files the way sacreBLEU's command line does: UTF-8, `.gz` read directly, lines
split at "\n" only, each line stripped of trailing whitespace (str.rstrip).

BLEU (Papineni et al. 2002; Post 2018):
  * 13a tokenisation (mteval-v13a.pl): drop "<skipped>", join "-\n", "\n" -> " ", unescape
    &quot; &amp; &lt; &gt; (in that order), pad with spaces, then four regex substitutions and a
    whitespace split.
  * n-grams of order 1..4; clipped matches against the maximum count over the references.
  * reference length per segment: the reference length closest to the hypothesis length, the
    shorter one on a tie.
  * brevity penalty exp(1 - r/c) when c < r (0 when c == 0).
  * 'exp' smoothing (NIST, Chen & Cherry 2014 method 3): the k-th order with no match gets
    precision 100 / (2^k * total); an order with no n-gram at all stops the loop, and its
    log-precision is floored at -9999999999.
  * no match at all -> score 0 and precisions 0.
  * empty reference lines are dropped from a segment's references; a segment with none left is
    an error.
chrF (Popović 2015), sacreBLEU 2.x defaults: character order 6, word order 0, beta 2,
whitespace removed, effective-order averaging of precision and recall over the corpus sums;
with several references each segment keeps the statistics of the reference with the best
sentence-level chrF (the first on a tie).

Usage:
  bleu_reference.py HYP REF [REF ...] [--lowercase]   print BLEU and chrF like sacreBLEU
  bleu_reference.py --fixtures OUT.json [--data DIR]  write the test fixtures
"""

import gzip
import json
import math
import re
import sys
from collections import Counter

MAX_ORDER = 4
CHAR_ORDER = 6
BETA = 2


def read_lines(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, mode="rt", encoding="utf-8", newline="\n") as f:
        return [line.rstrip() for line in f]


def split_lines(content):
    """The lines of a file holding content, as read_lines returns them."""
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip() for line in lines]


# --- 13a tokenisation -------------------------------------------------------------------------

_RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),  # punctuation and symbols
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # period/comma unless preceded by a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),  # period/comma unless followed by a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # dash preceded by a digit
]


def tokenize_13a(line):
    line = line.replace("<skipped>", "")
    line = line.replace("-\n", "")
    line = line.replace("\n", " ")
    line = line.replace("&quot;", '"')
    line = line.replace("&amp;", "&")
    line = line.replace("&lt;", "<")
    line = line.replace("&gt;", ">")
    line = " " + line + " "
    for pattern, repl in _RULES:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


# --- BLEU -------------------------------------------------------------------------------------

def ngrams(tokens, max_order):
    c = Counter()
    for n in range(1, max_order + 1):
        for i in range(len(tokens) - n + 1):
            c[tuple(tokens[i:i + n])] += 1
    return c


def bleu_stats(hyps, refs, lowercase):
    """Corpus sums: hyp_len, ref_len, correct[1..4], total[1..4]."""
    sys_len = ref_len = 0
    correct = [0] * MAX_ORDER
    total = [0] * MAX_ORDER
    for i, hyp in enumerate(hyps):
        seg_refs = [r[i] for r in refs if r[i] != ""]
        if not seg_refs:
            raise ValueError(f"segment {i + 1}: every reference is empty")
        max_counts = Counter()
        ref_lens = []
        for ref in seg_refs:
            if lowercase:
                ref = ref.lower()
            toks = tokenize_13a(ref.rstrip()).split()
            ref_lens.append(len(toks))
            for g, c in ngrams(toks, MAX_ORDER).items():
                max_counts[g] = max(max_counts[g], c)
        if lowercase:
            hyp = hyp.lower()
        htoks = tokenize_13a(hyp.rstrip()).split()
        hlen = len(htoks)
        closest = None
        for r in ref_lens:
            if closest is None or abs(hlen - r) < abs(hlen - closest) or (
                    abs(hlen - r) == abs(hlen - closest) and r < closest):
                closest = r
        sys_len += hlen
        ref_len += closest
        for g, c in ngrams(htoks, MAX_ORDER).items():
            total[len(g) - 1] += c
            correct[len(g) - 1] += min(c, max_counts.get(g, 0))
    return sys_len, ref_len, correct, total


def bleu_score(sys_len, ref_len, correct, total):
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    else:
        bp = 1.0
    precisions = [0.0] * MAX_ORDER
    if not any(correct):
        return 0.0, precisions, bp
    smooth = 1.0
    for n in range(MAX_ORDER):
        if total[n] == 0:
            break
        if correct[n] == 0:
            smooth *= 2
            precisions[n] = 100.0 / (smooth * total[n])
        else:
            precisions[n] = 100.0 * correct[n] / total[n]
    log_sum = 0
    for p in precisions:
        log_sum += math.log(p) if p != 0.0 else -9999999999
    return bp * math.exp(log_sum / MAX_ORDER), precisions, bp


def bleu_line(score, precisions, bp, sys_len, ref_len, width=2):
    ratio = sys_len / ref_len if ref_len else 0
    prec = "/".join(f"{p:.1f}" for p in precisions)
    return (f"BLEU = {score:.{width}f} {prec} (BP = {bp:.3f} ratio = {ratio:.3f} "
            f"hyp_len = {sys_len:d} ref_len = {ref_len:d})")


# --- chrF -------------------------------------------------------------------------------------

def char_ngrams(line):
    line = "".join(line.split())
    return [Counter(line[i:i + n] for i in range(len(line) - n + 1)) for n in range(1, CHAR_ORDER + 1)]


def f_score(stats):
    factor = BETA ** 2
    avg_p = avg_r = 0.0
    eff = 0
    for n in range(CHAR_ORDER):
        n_hyp, n_ref, n_match = stats[3 * n:3 * n + 3]
        if n_hyp > 0 and n_ref > 0:
            avg_p += n_match / n_hyp
            avg_r += n_match / n_ref
            eff += 1
    if eff == 0:
        return 0.0
    avg_p /= eff
    avg_r /= eff
    if avg_p + avg_r == 0:
        return 0.0
    return 100 * ((1 + factor) * avg_p * avg_r / (factor * avg_p + avg_r))


def chrf_stats(hyps, refs, lowercase):
    corpus = [0] * (3 * CHAR_ORDER)
    for i, hyp in enumerate(hyps):
        seg_refs = [r[i] for r in refs if r[i] != ""]
        if not seg_refs:
            raise ValueError(f"segment {i + 1}: every reference is empty")
        if lowercase:
            hyp = hyp.lower()
        h = char_ngrams(hyp)
        best, best_f = None, -1.0
        for ref in seg_refs:
            if lowercase:
                ref = ref.lower()
            r = char_ngrams(ref)
            stats = []
            for hc, rc in zip(h, r):
                match = sum(min(c, rc[g]) for g, c in hc.items() if g in rc)
                stats += [sum(hc.values()) if rc else 0, sum(rc.values()), match]
            f = f_score(stats)
            if f > best_f:
                best, best_f = stats, f
        corpus = [a + b for a, b in zip(corpus, best)]
    return corpus


def chrf_line(score, width=2):
    return f"chrF2 = {score:.{width}f}"


# --- fixtures ---------------------------------------------------------------------------------

def evaluate(hyps, refs, lowercase):
    sys_len, ref_len, correct, total = bleu_stats(hyps, refs, lowercase)
    score, precisions, bp = bleu_score(sys_len, ref_len, list(correct), list(total))
    cstats = chrf_stats(hyps, refs, lowercase)
    cscore = f_score(cstats)
    return {
        "bleu": {"score": score, "precisions": precisions, "bp": bp, "sys_len": sys_len,
                 "ref_len": ref_len, "correct": correct, "total": total,
                 "line": bleu_line(score, precisions, bp, sys_len, ref_len)},
        "chrf": {"score": cscore, "stats": cstats, "line": chrf_line(cscore)},
    }


CASES = [
    # name, hypothesis file content, reference file contents, lowercase
    ("identical", "the cat sat on the mat\n", ["the cat sat on the mat\n"], False),
    ("hand_cat", "the cat sat on the mat\n", ["the cat is on the mat\n"], False),
    ("hand_short", "a b c\n", ["a b c d e\n"], False),
    ("zero_matches", "xyz uvw\nfoo\n", ["a b c d\ne f g\n"], False),
    ("empty_hyp_lines", "\nthe house is small .\n\n", ["one two three\nthe house is small.\nfour\n"], False),
    ("all_empty_hyps", "\n\n", ["a b\nc\n"], False),
    ("no_fourgram_match", "the quick brown fox jumps over dog\n", ["the quick brown cat jumps over the dog\n"], False),
    ("short_segments", "a b c\nd e\n", ["a b c\nd e\n"], False),
    ("longer_than_ref", "a b c d e f g h\n", ["a b c d\n"], False),
    ("german", "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.\nEin Mädchen läuft über die Straße.\n",
     ["Zwei junge, weiße Männer sind draußen nahe vieler Büsche.\nEin Mädchen rennt über die Straße!\n"], False),
    ("german_lower", "ZWEI junge WEISSE Männer\nÄRGER über Öl\n", ["Zwei junge weiße MÄNNER\närger über öl\n"], True),
    ("cjk", "我爱北京天安门。\n東京は 日本の 首都です\n", ["我爱北京。\n東京は日本の首都です\n"], False),
    ("entities", "He said &quot;yes&quot; &amp; left &lt;now&gt; <skipped> AT&amp;T &amp;quot;\n",
     ["He said \"yes\" & left <now> AT&T &quot;\n"], False),
    ("numbers_punct", "In 1990-2000, 3.14 and 1,000.5 rose. Costs: $5.00; (ok) [x] {y} a/b @c #d ~e `f` ^g_ |h\n",
     ["In 1990 - 2000 , 3.14 and 1,000.5 rose . Costs : $ 5.00 ; ( ok ) [ x ] { y } a / b @ c # d ~ e ` f ` ^ g _ | h\n"], False),
    ("period_comma_edges", "end.\n.start ,x, 1.a a.1 1.1. ..,, 5-\n", ["end .\n. start , x , 1 . a a . 1 1.1 . . . , , 5 -\n"], False),
    ("multi_ref_lengths", "the cat sat on the mat\nit is a guide to action\n",
     ["the cat is on the mat\nit is a guide to action which ensures that the military always obeys\n",
      "there is a cat on the mat today\nit is the guiding principle\n"], False),
    ("multi_ref_tie", "a b c d e\n", ["a b c d\n", "a b c d e f\n"], False),
    ("multi_ref_empty_line", "the cat sat\nthe dog ran\n", ["the cat sat down\n\n", "a cat sat\nthe dog ran fast\n"], False),
    ("whitespace", "  the\tcat  sat \r\nthe\u00a0dog\u3000ran\x1cfar  \n", ["the cat sat\nthe dog ran far\n"], False),
    ("crlf_and_cr", "a b c d\r\nx\ry z\r\n", ["a b c d\nx y z\n"], False),
    ("greek_lower", "ΟΔΥΣΣΕΥΣ ΚΑΙ ΠΗΝΕΛΟΠΗ\nΣΑΣ\n", ["οδυσσευς και πηνελοπη\nσας\n"], True),
    ("turkish_dotted_i_lower", "İSTANBUL İyi\n", ["istanbul iyi\n"], True),
    ("cased_mismatch", "The Cat\n", ["the cat\n"], False),
    ("bom_and_symbols", "\ufeffhello world!\n", ["hello world !\n"], False),
    ("no_trailing_newline", "a b c d e", ["a b c d e f"], False),
]


def multi30k_cases(data_dir):
    import os
    d = os.path.join(data_dir, "multi30k-en-de")
    if not os.path.isdir(d):
        return []
    val = read_lines(os.path.join(d, "val.de.gz"))
    test = read_lines(os.path.join(d, "test_2016_flickr.de.gz"))
    train = read_lines(os.path.join(d, "train.de.gz"))
    n = len(test)
    out = []
    # Unrelated captions of the same domain: many unigram and bigram matches, few 4-gram ones.
    out.append({"name": "multi30k_test_vs_val", "hyp": "test_2016_flickr.de.gz[:1000]",
                "refs": ["val.de.gz[:1000]"], "lowercase": False,
                "expected": evaluate(test[:n], [val[:n]], False)})
    out.append({"name": "multi30k_test_vs_val_train_lower", "hyp": "test_2016_flickr.de.gz[:1000]",
                "refs": ["val.de.gz[:1000]", "train.de.gz[:1000]"], "lowercase": True,
                "expected": evaluate(test[:n], [val[:n], train[:n]], True)})
    return out


def write_fixtures(path, data_dir):
    cases = []
    for name, hyp, refs, lowercase in CASES:
        hyps = split_lines(hyp)
        ref_lines = [split_lines(r) for r in refs]
        cases.append({"name": name, "hyp": hyp, "refs": refs, "lowercase": lowercase,
                      "expected": evaluate(hyps, ref_lines, lowercase)})
    out = {"generator": "scripts/reference/bleu_reference.py", "cases": cases,
           "shared_data": multi30k_cases(data_dir) if data_dir else []}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main(argv):
    if argv[:1] == ["--fixtures"]:
        data_dir = argv[argv.index("--data") + 1] if "--data" in argv else None
        write_fixtures(argv[1], data_dir)
        return
    lowercase = "--lowercase" in argv
    files = [a for a in argv if a != "--lowercase"]
    if len(files) < 2:
        sys.exit(__doc__)
    hyps = read_lines(files[0])
    refs = [read_lines(p) for p in files[1:]]
    if any(len(r) != len(hyps) for r in refs):
        sys.exit("System and reference streams have different lengths.")
    e = evaluate(hyps, refs, lowercase)
    print(e["bleu"]["line"])
    print(e["chrf"]["line"])


if __name__ == "__main__":
    main(sys.argv[1:])
