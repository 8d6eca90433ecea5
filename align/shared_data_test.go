package align

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

// The public data in the shared folder: Self-Instruct's seed tasks and user-oriented
// instructions (SFT), and Anthropic's HH-RLHF harmless test pairs (reward model, DPO).
func TestSharedData(t *testing.T) {
	dir := testenv.RequireDataSubdir(t, "self-instruct")
	for name, want := range map[string]int{"seed_tasks.jsonl": 175, "user_oriented_instructions.jsonl": 252} {
		convs, err := LoadConversations(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(convs) < want {
			t.Errorf("%s: %d conversations, want at least one per task (%d)", name, len(convs), want)
		}
	}
	hh := testenv.RequireDataSubdir(t, "hh-rlhf-harmless-test")
	pairs, st, err := LoadPairs(filepath.Join(hh, "test.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs)+st.Identical+st.Empty != 2312 {
		t.Fatalf("%d pairs + %d identical + %d empty, want the file's 2312", len(pairs), st.Identical, st.Empty)
	}
	t.Logf("HH-RLHF harmless test: %d pairs, %d identical, %d with an empty reply", len(pairs), st.Identical, st.Empty)
	// Some dialogues hold "Human:" inside a turn, as the data was collected (so a prompt may
	// even end with an assistant turn); only the delimiters "\n\nHuman:" and "\n\nAssistant:"
	// split turns.
	for _, p := range pairs {
		if len(p.Prompt) == 0 || strings.Contains(p.Chosen, "\n\nHuman:") || strings.Contains(p.Rejected, "\n\nAssistant:") {
			t.Fatalf("pair split wrongly: %+v", p)
		}
	}
}
