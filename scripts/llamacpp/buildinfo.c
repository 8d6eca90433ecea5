// Which llama.cpp build the shipped libraries are: one JSON line with the values compiled into
// libllama-common (build number, commit, compiler, target) and libggml-base (version, commit).
// (scripts/bench-vs-llamacpp.sh builds and runs it.)
#include <stdio.h>

extern int LLAMA_BUILD_NUMBER;
extern const char *LLAMA_COMMIT;
extern const char *LLAMA_COMPILER;
extern const char *LLAMA_BUILD_TARGET;

const char *ggml_version(void);
const char *ggml_commit(void);

int main(void) {
    printf("{\"llama_build_number\":%d,\"llama_commit\":\"%s\",\"compiler\":\"%s\",\"target\":\"%s\","
           "\"ggml_version\":\"%s\",\"ggml_commit\":\"%s\"}\n",
           LLAMA_BUILD_NUMBER, LLAMA_COMMIT, LLAMA_COMPILER, LLAMA_BUILD_TARGET,
           ggml_version(), ggml_commit());
    return 0;
}
