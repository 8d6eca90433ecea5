// llama.cpp's CPU speed on a GPT-2 124M-shaped GGUF model, measured through libllama's C API
// (scripts/bench-vs-llamacpp.sh builds and runs it).
//
// Usage: bench <backend-dir> <model.gguf> <weights-label> [threads=2] [prefill_reps=7] [decode_reps=3]
//
// backend-dir is the folder of the shipped libggml-cpu-*.so variants; ggml loads the one that
// scores best on this CPU, and its file name is reported as "backend".
//
// prefill64_ms: one llama_decode of a 64-token prompt into an empty sequence, with logits for
//   the last position only, plus the argmax of those logits; the sequence's KV cache is cleared
//   between repetitions (not timed); median of prefill_reps after 2 warm-ups.
// decode_tok_s: after the 64-token prompt (not timed), 64 steps of a 1-token llama_decode and
//   the argmax of its logits, each step feeding back the token the previous one chose;
//   64 / wall time; median of decode_reps after 1 warm-up, each from a fresh sequence.
// Greedy sampling is a plain argmax over the vocabulary, so no sampler chain is timed.
//
// Output: one JSON line per metric on stdout; per-repetition values and the first generated
// ids on stderr (BENCH_VERBOSE=1 adds llama.cpp's own log).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-backend.h"
#include "llama.h"

#define N_PROMPT 64
#define N_GEN 64

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof(double), cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The log is quiet but for errors, except the line naming the CPU backend variant loaded,
// which is kept for the output.
static int verbose;
static char backend_path[512];
static void log_cb(enum ggml_log_level level, const char *text, void *ud) {
    (void)ud;
    const char *key = "loaded CPU backend from ";
    const char *p = strstr(text, key);
    if (p) {
        snprintf(backend_path, sizeof backend_path, "%s", p + strlen(key));
        backend_path[strcspn(backend_path, "\r\n")] = 0;
    }
    if (level == GGML_LOG_LEVEL_ERROR || verbose) fputs(text, stderr);
}

static int n_vocab;
static llama_token argmax_last(struct llama_context *ctx) {
    const float *logits = llama_get_logits_ith(ctx, -1);
    int best = 0;
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

// The prompt into sequence 0 at positions 0..N_PROMPT-1, logits for the last token only.
static void fill_prompt(struct llama_batch *b, const llama_token *prompt) {
    b->n_tokens = N_PROMPT;
    for (int i = 0; i < N_PROMPT; i++) {
        b->token[i] = prompt[i];
        b->pos[i] = i;
        b->n_seq_id[i] = 1;
        b->seq_id[i][0] = 0;
        b->logits[i] = (i == N_PROMPT - 1);
    }
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s <backend-dir> <model.gguf> <weights-label> [threads] [prefill_reps] [decode_reps]\n", argv[0]);
        return 2;
    }
    const char *bindir = argv[1], *path = argv[2], *label = argv[3];
    int threads = argc > 4 ? atoi(argv[4]) : 2;
    int prefill_reps = argc > 5 ? atoi(argv[5]) : 7;
    int decode_reps = argc > 6 ? atoi(argv[6]) : 3;
    if (threads < 1 || prefill_reps < 1 || decode_reps < 1) {
        fprintf(stderr, "bench: threads and repetitions must be at least 1\n");
        return 2;
    }

    verbose = getenv("BENCH_VERBOSE") != NULL;
    llama_log_set(log_cb, NULL);
    ggml_log_set(log_cb, NULL);
    ggml_backend_load_all_from_path(bindir);
    llama_backend_init();
    const char *backend = strrchr(backend_path, '/');
    backend = backend ? backend + 1 : (backend_path[0] ? backend_path : "unknown");
    fprintf(stderr, "[bench %s] CPU backend: %s\n", label, backend);

    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(path, mp);
    if (!model) { fprintf(stderr, "bench: cannot load %s\n", path); return 1; }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    n_vocab = llama_vocab_n_tokens(vocab);

    // llama.cpp's defaults otherwise: flash attention auto, f16 KV cache, mmap.
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 512;
    cp.n_batch = 512;
    cp.n_ubatch = 512;
    cp.n_seq_max = 1;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.no_perf = false;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "bench: cannot create a context\n"); return 1; }
    llama_memory_t mem = llama_get_memory(ctx);

    // A fixed English text, tokenized and repeated to N_PROMPT tokens.
    const char *text = "The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times, "
        "it was the age of wisdom, it was the age of foolishness, it was the epoch of belief, it was the epoch of "
        "incredulity, it was the season of Light, it was the season of Darkness, it was the spring of hope.";
    llama_token tok[512];
    int nt = llama_tokenize(vocab, text, (int)strlen(text), tok, 512, false, false);
    if (nt <= 0) { fprintf(stderr, "bench: tokenizing the prompt failed\n"); return 1; }
    llama_token prompt[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++) prompt[i] = tok[i % nt];

    struct llama_batch b = llama_batch_init(512, 0, 1);

    // Prefill.
    double *pre = calloc(prefill_reps, sizeof(double));
    llama_token first = -1;
    for (int r = -2; r < prefill_reps; r++) {
        llama_memory_seq_rm(mem, 0, -1, -1);
        fill_prompt(&b, prompt);
        double t0 = now_ms();
        if (llama_decode(ctx, b) != 0) { fprintf(stderr, "bench: llama_decode failed\n"); return 1; }
        first = argmax_last(ctx);
        double t1 = now_ms();
        if (r >= 0) pre[r] = t1 - t0;
    }
    fprintf(stderr, "[bench %s] prefill64 ms per rep:", label);
    for (int r = 0; r < prefill_reps; r++) fprintf(stderr, " %.2f", pre[r]);
    fprintf(stderr, "; next token after the prompt: %d\n", first);

    // Decode.
    double *dec = calloc(decode_reps, sizeof(double));
    llama_token gen[N_GEN + 1];
    for (int r = -1; r < decode_reps; r++) {
        llama_memory_seq_rm(mem, 0, -1, -1);
        fill_prompt(&b, prompt);
        if (llama_decode(ctx, b) != 0) { fprintf(stderr, "bench: llama_decode failed\n"); return 1; }
        gen[0] = argmax_last(ctx);
        double t0 = now_ms();
        for (int i = 0; i < N_GEN; i++) {
            b.n_tokens = 1;
            b.token[0] = gen[i];
            b.pos[0] = N_PROMPT + i;
            b.n_seq_id[0] = 1;
            b.seq_id[0][0] = 0;
            b.logits[0] = 1;
            if (llama_decode(ctx, b) != 0) { fprintf(stderr, "bench: llama_decode failed\n"); return 1; }
            gen[i + 1] = argmax_last(ctx);
            if (gen[i + 1] < 0 || gen[i + 1] >= n_vocab) { fprintf(stderr, "bench: token %d out of range\n", gen[i + 1]); return 1; }
        }
        double t1 = now_ms();
        if (r >= 0) dec[r] = N_GEN / ((t1 - t0) / 1e3);
    }
    fprintf(stderr, "[bench %s] decode tok/s per rep:", label);
    for (int r = 0; r < decode_reps; r++) fprintf(stderr, " %.2f", dec[r]);
    fprintf(stderr, "; first generated ids:");
    for (int i = 0; i < 16; i++) fprintf(stderr, "%s%d", i ? "," : " ", gen[i]);
    fprintf(stderr, "\n");

    printf("{\"peer\":\"ggml\",\"weights\":\"%s\",\"metric\":\"prefill64_ms\",\"value\":%.3f,\"threads\":%d,\"backend\":\"%s\"}\n",
           label, median(pre, prefill_reps), threads, backend);
    printf("{\"peer\":\"ggml\",\"weights\":\"%s\",\"metric\":\"decode_tok_s\",\"value\":%.3f,\"threads\":%d,\"backend\":\"%s\"}\n",
           label, median(dec, decode_reps), threads, backend);
    fflush(stdout);

    llama_batch_free(b);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    free(pre);
    free(dec);
    return 0;
}
