package align

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoaders feeds arbitrary files to the conversation, pair and prompt loaders: they return
// data or an error, never panic, and what they return is usable.
func FuzzLoaders(f *testing.F) {
	for _, s := range []string{
		`{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}`,
		`[{"instruction": "Add", "input": "1 2", "output": "3"}]`,
		`{"instruction": "Sort", "instances": [{"input": "b a", "output": "a b"}]}`,
		`{"prompt": "q?", "chosen": "good", "rejected": "bad"}`,
		`{"chosen": "\n\nHuman: hi\n\nAssistant: a", "rejected": "\n\nHuman: hi\n\nAssistant: b"}`,
		`{"chosen": "\n\nAssistant: a", "rejected": "no turns"}`,
		"\n\n[",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "d.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if convs, err := LoadConversations(path); err == nil {
			for _, c := range convs {
				if c.check() != nil {
					t.Fatalf("LoadConversations returned an unusable conversation %+v", c)
				}
			}
		}
		if pairs, _, err := LoadPairs(path); err == nil {
			for _, p := range pairs {
				if p.Chosen == p.Rejected || p.Chosen == "" || p.Rejected == "" {
					t.Fatalf("LoadPairs returned a pair without a preference: %+v", p)
				}
			}
		}
		if prompts, err := LoadPrompts(path); err == nil && len(prompts) == 0 {
			t.Fatal("LoadPrompts returned no prompts and no error")
		}
	})
}
